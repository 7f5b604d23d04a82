// `tincan demo` as a newcomer meets it: run it, wait for "ready", type the printed `send`
// commands (as printed, through a shell) to chat both ways and get the receipts, check
// `status` shows bob relayed, then Ctrl-C (SIGINT by PID): exit 0, temp state removed.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ROOT, spawnLong, type LongRunning } from './cli-helpers.ts';

let demo: LongRunning | undefined;
afterAll(async () => { await demo?.stop(); });

function sh(cmd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const c = spawn('/bin/sh', ['-c', cmd], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => { out += String(d); });
    c.stderr.on('data', (d) => { out += String(d); });
    c.on('exit', (code) => res({ code, out }));
  });
}

describe('tincan demo', () => {
  it('brings up a whole tincan; the printed commands chat both ways; Ctrl-C stops it', async () => {
    demo = spawnLong(['demo'], {}, [ROOT + '/bin/tincan.js']);
    await demo.waitFor(/tincan demo: ready/, 90_000);
    const out = demo.out();
    const sendAlice = out.match(/^ {2}(TINCAN_HOME=\S+ node \S+ send bob "hello bob")$/m)?.[1];
    const sendBob = out.match(/^ {2}(TINCAN_HOME=\S+ node \S+ send alice "hi alice")$/m)?.[1];
    const status = out.match(/^ {2}(TINCAN_HOME=\S+ node \S+ status)$/m)?.[1];
    expect(out).toMatch(/terminal 1 \(alice\): {2}TINCAN_HOME=\S+ node \S+ chat bob/);
    expect(out).toMatch(/terminal 2 \(bob\): {4}TINCAN_HOME=\S+ node \S+ chat alice/);
    expect(sendAlice && sendBob && status).toBeTruthy();
    const dir = /TINCAN_HOME=(\S+)\/alice/.exec(sendAlice!)![1];

    const a = await sh(sendAlice!);
    expect(a).toEqual({ code: 0, out: 'delivered to bob (#1)\n' });
    const b = await sh(sendBob!);
    expect(b).toEqual({ code: 0, out: 'delivered to alice (#1)\n' });
    await demo.waitFor(/\[bob\] got from alice: hello bob/);
    await demo.waitFor(/\[alice\] got from bob: hi alice/);
    // the interactive command, fed from a pipe: each line sent, its receipt shown
    const chatAlice = out.match(/terminal 1 \(alice\): {2}(TINCAN_HOME=\S+ node \S+ chat bob)/)![1];
    const chat = await sh(`printf 'line one\\nline two\\n' | ${chatAlice}`);
    expect(chat.code).toBe(0);
    expect(chat.out).toMatch(/me: hello bob {2}✓\n.*bob: hi alice\n/);
    expect(chat.out).toContain('✓ delivered #2');
    expect(chat.out).toContain('✓ delivered #3');
    await demo.waitFor(/\[bob\] got from alice: line two/);
    const st = await sh(status!);
    expect(st.code).toBe(0);
    expect(st.out).toMatch(/^ {2}bob +online +relayed +rtt [\d.]+ ms via 127\.0\.0\.1:\d+/m);

    process.kill(demo.child.pid!, 'SIGINT');
    expect(await demo.stop()).toBe(0);
    expect(demo.out()).toContain('tincan demo: stopped');
    expect(existsSync(dir)).toBe(false);
  });
});
