// `tincan supernode`: run a dedicated supernode (src/overlay/relay-service.ts): relay
// (tickets checked with the directory's public key), STUN Binding (second vantage point
// for NAT classification), and gossip with other supernodes when --id is given (seeded
// with --seed and, with --directory, with the directory's list).
// With --directory <url> it logs in (--user, password from env TINCAN_SUPERNODE_PASSWORD;
// --create-account registers the account first if needed), fetches the directory key
// (unless --directory-key is given), registers at the directory (POST /v1/supernodes,
// address from --advertise or --bind) and heartbeats with its relay load, so that
// peers find it in GET /v1/supernodes.
// The relay is also served over TCP on the same port number (devices whose UDP is blocked;
// --no-tcp turns that off).
// Prints JSON lines: {event:"listening"} once, {event:"registered"} after registering,
// then {event:"counters"} every interval.
import type { Command } from 'commander';
import { startRelayService } from '../overlay/relay-service.ts';
import { registerAtDirectory } from '../overlay/supernode-registration.ts';
import { DirectoryClient, DirectoryError } from '../directory/client.ts';

async function loginSupernode(url: string, user: string | undefined, create: boolean): Promise<DirectoryClient> {
  const password = process.env.TINCAN_SUPERNODE_PASSWORD;
  if (!user || !password) throw new Error('--directory needs --user and the password in env TINCAN_SUPERNODE_PASSWORD');
  const dir = new DirectoryClient(url);
  try {
    await dir.login(user, password);
  } catch (e) {
    if (!(create && e instanceof DirectoryError && e.status === 401)) throw new Error(`login at ${url} as ${user} failed: ${(e as Error).message}`);
    await dir.register(user, password);
    await dir.login(user, password);
  }
  return dir;
}

export function registerSupernode(program: Command): void {
  program
    .command('supernode')
    .description('run a supernode relay: forwards encrypted packets between two devices holding a directory-issued ticket')
    .option('--directory-key <hex>', "the directory's Ed25519 public key (64 hex digits; fetched from --directory if omitted)")
    .option('--directory <url>', 'register at this directory and heartbeat (needs --user, env TINCAN_SUPERNODE_PASSWORD)')
    .option('--user <name>', 'directory account the supernode registers under')
    .option('--create-account', 'register the --user account at the directory if it does not exist', false)
    .option('--capacity <n>', 'relay sessions offered (published in the directory)', '1000')
    .option('--bind <address>', 'local IPv4 address', '0.0.0.0')
    .option('--port <port>', 'UDP port (0: any free port)', '3479')
    .option('--no-tcp', 'do not serve the relay over TCP (for UDP-blocked devices) on the same port number')
    .option('--allow-loopback', 'accept peers on 127.0.0.0/8 (benchmarks, local demos)', false)
    .option('--allow-private', 'accept peers in private ranges (a relay on a LAN)', false)
    .option('--device-bytes-per-sec <n>', 'relayed bytes/s allowed per sending device', '2000000')
    .option('--total-bytes-per-sec <n>', 'relayed bytes/s allowed in total', '100000000')
    .option('--id <id>', 'supernode id for gossip (enables gossip)')
    .option('--advertise <ip:port>', 'address other supernodes reach us at (default: --bind and the bound port)')
    .option('--seed <id@ip:port>', 'a supernode to gossip with first (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--shuffle-interval <ms>', 'gossip shuffle period', '5000')
    .option('--stats-interval <seconds>', 'print counters every N seconds (0: never)', '10')
    .option('--busy-poll <mode>', "the UDP socket's busy polling: 'adaptive' (spin 200 us between bursts while >= 50,000 datagrams/s arrive; env TINCAN_RELAY_ADAPTIVE_BUSY_POLL=0 means off), 'off', or microseconds (always)", 'adaptive')
    .action(async (o: { directoryKey?: string; directory?: string; user?: string; createAccount: boolean; capacity: string; tcp: boolean; bind: string; port: string; allowLoopback: boolean; allowPrivate: boolean; statsInterval: string; deviceBytesPerSec: string; totalBytesPerSec: string;
      id?: string; advertise?: string; seed: string[]; shuffleInterval: string; busyPoll: string }) => {
      if (o.directoryKey !== undefined && !/^[0-9a-fA-F]{64}$/.test(o.directoryKey)) throw new Error('--directory-key must be 64 hex digits (32-byte Ed25519 public key)');
      if (o.directoryKey === undefined && !o.directory) throw new Error('give --directory-key or --directory');
      const capacity = Number(o.capacity);
      if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1_000_000) throw new Error(`--capacity must be 1..1000000, got ${o.capacity}`);
      const dir = o.directory ? await loginSupernode(o.directory, o.user, o.createAccount) : undefined;
      const directoryPublicKey = o.directoryKey ? Uint8Array.from(Buffer.from(o.directoryKey, 'hex')) : await dir!.directoryKey();
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${o.port}`);
      const rate = (v: string, name: string) => {
        const n = Number(v);
        if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${name} must be a positive number, got ${v}`);
        return n;
      };
      const deviceBytesPerSec = rate(o.deviceBytesPerSec, '--device-bytes-per-sec');
      const totalBytesPerSec = rate(o.totalBytesPerSec, '--total-bytes-per-sec');
      const addr = (v: string, what: string) => {
        const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(v);
        if (!m || Number(m[2]) > 65535) throw new Error(`${what} must be ip:port, got ${v}`);
        return { address: m[1], port: Number(m[2]) };
      };
      const seeds = o.seed.map((v) => {
        const at = v.indexOf('@');
        if (at < 1) throw new Error(`--seed must be id@ip:port, got ${v}`);
        return { id: v.slice(0, at), address: addr(v.slice(at + 1), '--seed') };
      });
      const shuffleIntervalMs = Number(o.shuffleInterval);
      if (!(shuffleIntervalMs >= 10)) throw new Error('--shuffle-interval must be >= 10 ms');
      const busy = o.busyPoll === 'adaptive' ? (process.env.TINCAN_RELAY_ADAPTIVE_BUSY_POLL === '0' ? 'off' : 'adaptive') : o.busyPoll;
      const busyUs = busy === 'adaptive' || busy === 'off' ? 0 : Number(busy);
      if (!Number.isInteger(busyUs) || busyUs < 0 || busyUs > 1000) throw new Error(`--busy-poll must be adaptive, off or 0..1000 (microseconds), got ${o.busyPoll}`);
      const gossip = o.id ? { self: { id: o.id, address: o.advertise ? addr(o.advertise, '--advertise') : { address: o.bind, port: 0 } }, seeds, shuffleIntervalMs } : undefined;
      const service = await startRelayService({
        gossip,
        deviceBytesPerSec, deviceBurstBytes: Math.max(256 * 1024, deviceBytesPerSec / 8), totalBytesPerSec, totalBurstBytes: Math.max(4 * 1024 * 1024, totalBytesPerSec / 8),
        address: o.bind, port, directoryPublicKey, tcp: o.tcp, adaptiveBusyPoll: busy === 'adaptive', ...(busyUs > 0 ? { busyPollUs: busyUs } : {}),
        allowLoopback: o.allowLoopback, allowPrivate: o.allowPrivate,
      });
      console.log(JSON.stringify({ event: 'listening', address: service.local.address, port: service.local.port, gossip: !!gossip, busyPoll: busy }));
      let registration: { close(): void } | undefined;
      if (dir) {
        const adv = o.advertise ? addr(o.advertise, '--advertise') : { address: o.bind, port: service.local.port };
        if (adv.address === '0.0.0.0') throw new Error('--directory with --bind 0.0.0.0 needs --advertise <public ip:port>');
        const reg = await registerAtDirectory({
          directory: dir, address: adv.address, port: adv.port || service.local.port, capacity,
          load: () => service.counters().relay.sessionsActive,
          onList: gossip ? (list) => service.seed(list.map((s) => ({ id: s.id, address: { address: s.address, port: s.port } }))) : undefined,
          onError: (e) => console.log(JSON.stringify({ event: 'directory-error', message: e.message })),
        });
        registration = reg;
        console.log(JSON.stringify({ event: 'registered', id: reg.id, directory: o.directory, address: adv.address, port: adv.port || service.local.port }));
      }
      const every = Number(o.statsInterval);
      if (every > 0) setInterval(() => console.log(JSON.stringify({ event: 'counters', counters: service.counters(), udp: service.udpCounters(), tcp: service.tcpCounters(), view: service.view().map((e) => e.id) })), every * 1000).unref();
      const stop = () => { registration?.close(); service.close(); process.exit(0); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
