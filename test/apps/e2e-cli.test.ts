// Chat end to end through the CLI, every role a real process on loopback: `tincan
// directory`, `tincan supernode`, register/login/contacts for alice and bob, `tincan up`
// for both, `send` both ways with receipts, `status` shows the path; then bob goes
// offline (SIGTERM by PID): a send is reported queued (exit 3) and is delivered once bob
// is up again; errors for wrong password and unknown user; with the directory stopped,
// commands say it is unreachable.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, spawnLong, type LongRunning } from './cli-helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'tincan-e2e-'));
const procs: LongRunning[] = [];
afterAll(async () => {
  for (const p of procs.reverse()) await p.stop();
  rmSync(root, { recursive: true, force: true });
});
const long = (args: string[], env: Record<string, string> = {}) => { const p = spawnLong(args, env); procs.push(p); return p; };
const home = (u: string) => ({ TINCAN_HOME: join(root, u) });

// ~15 CLI processes, most in parallel; each pays Node + tsx start-up (seconds on a loaded machine)
describe('chat end to end (CLI, real processes)', () => {
  it('register, contacts, up, send both ways, status, offline queueing, errors', { timeout: 180_000 }, async () => {
    const directory = long(['directory', '--data-dir', join(root, 'dir'), '--listen', '127.0.0.1', '--port', '0', '--stun-port', '0', '--scrypt-n', '1024', '--no-log-requests']);
    const listening = JSON.parse((await directory.waitFor(/^.*"directory listening".*$/m))[0]) as { port: number; stunPort: number };
    const url = `http://127.0.0.1:${listening.port}`;
    const stun = `127.0.0.1:${listening.stunPort}`;
    const supernode = long(['supernode', '--directory', url, '--user', 'sn1', '--create-account', '--bind', '127.0.0.1', '--port', '0', '--allow-loopback', '--stats-interval', '0'],
      { TINCAN_SUPERNODE_PASSWORD: 'supernode password' });

    const reg = await Promise.all(['alice', 'bob'].map((u) => run(['register', u, '--directory', url, '--password-stdin'], { stdin: `${u} secret pw\n`, env: home(u) })));
    expect(reg.map((r) => r.code)).toEqual([0, 0]);
    const login = await Promise.all(['alice', 'bob'].map((u) => run(['login', u, '--directory', url, '--password-stdin'], { stdin: `${u} secret pw\n`, env: home(u) })));
    expect(login.map((r) => r.code)).toEqual([0, 0]);
    expect((await run(['contacts', 'add', 'bob'], { env: home('alice') })).code).toBe(0);
    const [accepted] = await Promise.all([run(['contacts', 'accept', 'alice'], { env: home('bob') }), supernode.waitFor(/"event":"registered"/)]);
    expect(accepted.code).toBe(0);

    const upArgs = ['up', '--bind', '127.0.0.1', '--stun', stun];
    const upAlice = long(upArgs, home('alice'));
    let upBob = long(upArgs, home('bob'));
    await Promise.all([upAlice.waitFor(/^tincan up: alice online/m, 90_000), upBob.waitFor(/^tincan up: bob online/m, 90_000)]);

    const [ab, ba] = await Promise.all([
      run(['send', 'bob', 'hello', 'bob'], { env: home('alice') }),
      run(['send', 'alice', 'hi alice'], { env: home('bob') }),
    ]);
    expect([ab.code, ab.stdout]).toEqual([0, 'delivered to bob (#1)\n']);
    expect([ba.code, ba.stdout]).toEqual([0, 'delivered to alice (#1)\n']);
    await upBob.waitFor(/^alice: hello bob$/m);
    await upAlice.waitFor(/^bob: hi alice$/m);

    const st = await run(['status', '--json'], { env: home('alice') });
    expect(st.code).toBe(0);
    const status = JSON.parse(st.stdout) as { username: string; contacts: { username: string; presence: string; path?: string; rttMs?: number; nat?: string }[] };
    expect(status.username).toBe('alice');
    expect(status.contacts).toEqual([expect.objectContaining({ username: 'bob', presence: 'online', path: expect.stringMatching(/^(direct|relayed)$/) })]);
    console.log(`tincan status --json (alice): ${st.stdout}`);

    // bob goes offline: queued (exit 3), delivered when bob is back
    expect(await upBob.stop()).toBe(0);
    const [queued, wrongPw, unknown] = await Promise.all([
      run(['send', 'bob', 'are you there?', '--wait', '2'], { env: home('alice') }),
      run(['login', 'alice', '--directory', url, '--password-stdin'], { stdin: 'wrong\n', env: home('eve') }),
      run(['contacts', 'add', 'nobody'], { env: home('alice') }),
    ]);
    expect(queued.code).toBe(3);
    // queued while bob is offline: not yet numbered (the seq is per device of bob, given when one is reached)
    expect(queued.stderr).toMatch(/^tincan: .*message queued; it will be delivered when bob is reachable/);
    expect([wrongPw.code, wrongPw.stderr]).toEqual([1, 'tincan: wrong username or password\n']);
    expect([unknown.code, unknown.stderr]).toEqual([1, 'tincan: unknown user nobody\n']);
    upBob = long(upArgs, home('bob'));
    await upBob.waitFor(/^alice: are you there\?$/m, 90_000);
    await upAlice.waitFor(/✓ bob got #2/, 30_000);
    // history (through bob's daemon) while the directory goes away
    const [hist, stopped] = await Promise.all([run(['history', 'alice', '--json'], { env: home('bob') }), directory.stop()]);
    const texts = (JSON.parse(hist.stdout) as { text: string }[]).map((m) => m.text);
    expect([...texts.slice(0, 2)].sort()).toEqual(['hello bob', 'hi alice']); // sent at the same time
    expect(texts[2]).toBe('are you there?');
    expect(stopped).toBe(0);
    const gone = await run(['contacts', 'list'], { env: home('alice') });
    expect([gone.code, gone.stderr]).toEqual([1, `tincan: directory unreachable at ${url} (is \`tincan directory\` running?)\n`]);
  });
});
