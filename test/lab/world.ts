// The netns lab's two-user world, shared by the lab tests (holepunch, network-change):
//   198.51.100.0/24 "internet" bridge; the real directory (`tincan directory`: SQLite,
//   HTTP + push, RFC 5780 STUN on 198.51.100.10 and .11) and a real supernode (`tincan
//   supernode --directory`, registered, 198.51.100.20:3479); alice's LAN 192.0.2.0/26
//   behind NAT 198.51.100.2, bob's LAN 192.0.2.64/26 behind NAT 198.51.100.3 (netns.ts
//   addNatLan; bob's NAT options per test); accounts alice and bob, mutual contacts, with
//   bearer tokens (programs/accounts.ts).
// Contract: withLabWorld(opts, fn) builds the world, runs fn(world) and always cleans up
// (processes killed by PID, namespaces deleted, temp data removed), also when fn throws.
// Helpers: events()/until() read the JSON lines the lab programs print; peerEnv() is the
// LAB_PEER config both peer programs take.
import { resolve, join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Lab, type LabProcess, type NatLan } from './netns.ts';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const PROGRAMS = resolve(import.meta.dirname, 'programs');
export const CLI = join(ROOT, 'src/cli/main.ts');
export const DIRECTORY = 'http://198.51.100.10:7400';
export const SUPERNODE = '198.51.100.20:3479';
export const PEER_PORT = 5000;

export type Ev = Record<string, unknown> & { event: string; at: number };

/** Every JSON line a lab process printed so far. */
export const events = (p: LabProcess): Ev[] => p.lines.flatMap((l) => { try { return [JSON.parse(l) as Ev]; } catch { return []; } });

/** Poll `f` every 25 ms until it returns a value; throws (with the processes' last lines) after `timeoutMs` or when one of `procs` exited. */
export async function until<T>(f: () => T | undefined, timeoutMs: number, what: string, procs: LabProcess[]): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline || procs.some((p) => p.child.exitCode !== null)) {
      const tail = procs.map((p, i) => `--- process ${i}:\n${p.lines.slice(-60).join('\n')}`).join('\n');
      throw new Error(`lab: ${what}: not within ${timeoutMs} ms\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The first JSON line of `p` matching `pred` (waits up to `timeoutMs`). */
export function waitForLine(p: LabProcess, pred: (o: Ev) => boolean, timeoutMs: number, what = 'matching line'): Promise<Ev> {
  return until(() => events(p).find(pred), timeoutMs, what, [p]);
}

export interface LabWorldOptions {
  /** Temp directory name prefix (state dirs of the directory and the peers). */
  readonly tmpPrefix: string;
  /** bob's NAT (alice's is always MASQUERADE: EIM/APDF). */
  readonly bobNat?: { readonly randomFully?: boolean; readonly blockUdp?: boolean };
  /** Extra `tincan supernode` arguments (e.g. --stats-interval 1). */
  readonly supernodeArgs?: readonly string[];
}

export interface LabWorld {
  readonly lab: Lab;
  readonly data: string;
  readonly dirNs: string;
  readonly snNs: string;
  readonly a: NatLan;
  readonly b: NatLan;
  readonly directory: LabProcess;
  readonly supernode: LabProcess;
  readonly tokens: { readonly alice: string; readonly bob: string };
  /** LAB_PEER env for a peer program: directory, token, state dir, port 5000, plus `extra`. */
  peerEnv(name: 'alice' | 'bob', extra?: Record<string, unknown>): Record<string, string>;
}

/** Build the world (directory up, accounts made, supernode registered), run `fn`, clean up. */
export async function withLabWorld<T>(opts: LabWorldOptions, fn: (w: LabWorld) => Promise<T>): Promise<T> {
  const lab = new Lab();
  const data = mkdtempSync(join(tmpdir(), opts.tmpPrefix));
  try {
    lab.addInternet();
    const dirNs = lab.addPublicHost('dir', ['198.51.100.10', '198.51.100.11']);
    const snNs = lab.addPublicHost('sn', ['198.51.100.20']);
    const a = lab.addNatLan('a', { wanIp: '198.51.100.2', lanBase: '192.0.2.0' });
    const b = lab.addNatLan('b', { wanIp: '198.51.100.3', lanBase: '192.0.2.64', ...opts.bobNat });
    const directory = lab.spawnNode(dirNs, CLI, ['directory', '--listen', '198.51.100.10', '--port', '7400', '--stun-port', '3478', '--stun-alternate-address', '198.51.100.11', '--data-dir', join(data, 'directory'),
      '--scrypt-n', '1024', '--no-log-requests', '--log-level', 'warn']);
    const accP = lab.spawnNode(dirNs, `${PROGRAMS}/accounts.ts`, [DIRECTORY]); // waits for the directory to listen
    const accounts = await until(() => events(accP).find((e) => e.event === 'accounts'), 30_000, 'accounts', [accP, directory]);
    const tokens = accounts.tokens as { alice: string; bob: string };
    const supernode = lab.spawnNode(snNs, CLI, ['supernode', '--directory', DIRECTORY, '--user', 'supernode', '--create-account', '--bind', '198.51.100.20', '--port', '3479', ...(opts.supernodeArgs ?? [])],
      { TINCAN_SUPERNODE_PASSWORD: 'lab supernode password' });
    await until(() => events(supernode).find((e) => e.event === 'registered'), 30_000, 'supernode registered', [supernode]);
    const peerEnv = (name: 'alice' | 'bob', extra: Record<string, unknown> = {}) => ({
      LAB_PEER: JSON.stringify({ directoryUrl: DIRECTORY, token: tokens[name], stateDir: join(data, name), port: PEER_PORT, ...extra }),
    });
    return await fn({ lab, data, dirNs, snNs, a, b, directory, supernode, tokens, peerEnv });
  } finally {
    await lab.cleanup();
    rmSync(data, { recursive: true, force: true });
  }
}
