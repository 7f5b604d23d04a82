// Real-kernel network lab (docs: /work/shared/design/network-lab.md): network
// namespaces joined by veth pairs, a bridge as the "internet" (198.51.100.0/24),
// LANs (192.0.2.0/26, 192.0.2.64/26) behind router namespaces that forward and
// masquerade with iptables (optionally --random-fully: per-flow random ports, an
// address-and-port-dependent mapping). Processes run inside namespaces with
// `ip netns exec`. Every namespace name carries this process' PID; cleanup() kills
// the processes it started by PID and deletes the namespaces it created, and is
// meant to run in a `finally`. labUnavailable() says why the lab cannot run here.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

let labCounter = 0;

/** Undefined when the lab can run; otherwise the reason it cannot. */
export function labUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root (network namespaces and iptables need root)';
  for (const tool of ['ip', 'iptables']) {
    if (!['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some((d) => existsSync(`${d}/${tool}`))) return `\`${tool}\` not installed`;
  }
  const probe = `tcprobe${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
  } catch (e) {
    return `cannot create a network namespace: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    try { execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' }); } catch { /* was never created */ }
  }
  return undefined;
}

export interface NatLan {
  readonly router: string; // namespace
  readonly host: string; // namespace
  readonly wanIp: string;
  readonly hostIp: string;
}

export interface LabProcess {
  readonly child: ChildProcess;
  readonly lines: string[];
  /** Resolves with the exit code (or -1 when killed by a signal). */
  readonly exited: Promise<number>;
}

export class Lab {
  /** Unique per process and lab: "tc<pid>n<k>". */
  readonly id = `tc${process.pid}n${++labCounter}`;
  private readonly namespaces: string[] = [];
  private readonly processes: LabProcess[] = [];
  private inet?: string;
  private vethCount = 0;

  /** Full namespace name for a short role name. */
  ns(role: string): string {
    return `${this.id}-${role}`;
  }

  run(ns: string | undefined, cmd: string, args: string[]): string {
    const [file, argv] = ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
    try {
      return execFileSync(file, argv, { stdio: 'pipe', encoding: 'utf8', timeout: 10_000 });
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new Error(`lab: ${[file, ...argv].join(' ')} failed: ${err.stderr?.trim() || err.message}`);
    }
  }

  addNamespace(role: string): string {
    const name = this.ns(role);
    this.run(undefined, 'ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    this.run(undefined, 'ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** veth pair created directly inside the two namespaces (no name clashes in the root namespace). */
  private link(nsA: string, ifA: string, nsB: string, ifB: string): void {
    this.run(undefined, 'ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    this.run(undefined, 'ip', ['-n', nsA, 'link', 'set', ifA, 'up']);
    this.run(undefined, 'ip', ['-n', nsB, 'link', 'set', ifB, 'up']);
  }

  /** The "internet": a namespace holding bridge br0 for 198.51.100.0/24. */
  addInternet(): string {
    const inet = this.addNamespace('inet');
    this.run(undefined, 'ip', ['-n', inet, 'link', 'add', 'br0', 'type', 'bridge']);
    this.run(undefined, 'ip', ['-n', inet, 'link', 'set', 'br0', 'up']);
    this.inet = inet;
    return inet;
  }

  private plugIntoInternet(ns: string, ifName: string, ip: string): void {
    if (!this.inet) throw new Error('lab: addInternet() first');
    const port = `p${++this.vethCount}`;
    this.link(ns, ifName, this.inet, port);
    this.run(undefined, 'ip', ['-n', this.inet, 'link', 'set', port, 'master', 'br0']);
    this.run(undefined, 'ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', ifName]);
  }

  /** A host with one or more public addresses on the internet segment. */
  addPublicHost(role: string, ips: string[]): string {
    const ns = this.addNamespace(role);
    this.plugIntoInternet(ns, 'eth0', ips[0]);
    for (const ip of ips.slice(1)) this.run(undefined, 'ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    return ns;
  }

  /**
   * A LAN behind a masquerading router: router "wan" on the internet segment, "lan"
   * on `lanPrefix`.1/26, one host at `lanPrefix`.2 with a default route via the router.
   * The router drops unsolicited inbound UDP to itself (as home routers do), which also
   * keeps Linux conntrack from remembering those packets and clashing with later mappings.
   * `blockUdp`: the router forwards no UDP at all (only TCP gets out).
   */
  addNatLan(role: string, opts: { wanIp: string; lanBase: string; randomFully?: boolean; blockUdp?: boolean }): NatLan {
    const router = this.addNamespace(`${role}r`);
    const host = this.addNamespace(`${role}h`);
    this.plugIntoInternet(router, 'wan', opts.wanIp);
    const [a, b, c, d] = opts.lanBase.split('.').map(Number);
    const routerLan = `${a}.${b}.${c}.${d + 1}`;
    const hostIp = `${a}.${b}.${c}.${d + 2}`;
    this.link(router, 'lan', host, 'eth0');
    this.run(undefined, 'ip', ['-n', router, 'addr', 'add', `${routerLan}/26`, 'dev', 'lan']);
    this.run(undefined, 'ip', ['-n', host, 'addr', 'add', `${hostIp}/26`, 'dev', 'eth0']);
    this.run(undefined, 'ip', ['-n', host, 'route', 'add', 'default', 'via', routerLan]);
    this.run(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    this.run(router, 'iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE', ...(opts.randomFully ? ['--random-fully'] : [])]);
    this.run(router, 'iptables', ['-A', 'INPUT', '-i', 'wan', '-p', 'udp', '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'DROP']);
    if (opts.blockUdp) this.run(router, 'iptables', ['-A', 'FORWARD', '-p', 'udp', '-j', 'DROP']); // a network that lets only TCP out
    return { router, host, wanIp: opts.wanIp, hostIp };
  }

  /**
   * A second network for an existing LAN host (Wi-Fi -> LTE): a new masquerading router
   * namespace on the internet segment at `wanIp`, linked to `lan.host` by a new interface
   * `ifName` (up, no address yet; the router side is `lanBase`.1/26). Nothing is routed
   * through it until switchUplink() moves the host over.
   */
  addUplink(lan: NatLan, role: string, opts: { wanIp: string; lanBase: string; ifName: string; randomFully?: boolean }): NatLan {
    const router = this.addNamespace(`${role}r`);
    this.plugIntoInternet(router, 'wan', opts.wanIp);
    const [a, b, c, d] = opts.lanBase.split('.').map(Number);
    this.link(router, 'lan', lan.host, opts.ifName);
    this.run(undefined, 'ip', ['-n', router, 'addr', 'add', `${a}.${b}.${c}.${d + 1}/26`, 'dev', 'lan']);
    this.run(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    this.run(router, 'iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE', ...(opts.randomFully ? ['--random-fully'] : [])]);
    this.run(router, 'iptables', ['-A', 'INPUT', '-i', 'wan', '-p', 'udp', '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'DROP']);
    return { router, host: lan.host, wanIp: opts.wanIp, hostIp: `${a}.${b}.${c}.${d + 2}` };
  }

  /**
   * The host leaves its current network for `to` (from addUplink, or the LAN it left before): `fromIf` goes down
   * (its address and default route go with it), `toIf` gets `to.hostIp`/26 and the default
   * route via `to`'s router. Sockets bound to 0.0.0.0 now send from the new address.
   */
  switchUplink(to: NatLan, fromIf: string, toIf: string): void {
    const [a, b, c, d] = to.hostIp.split('.').map(Number);
    this.run(undefined, 'ip', ['-n', to.host, 'link', 'set', fromIf, 'down']);
    this.run(undefined, 'ip', ['-n', to.host, 'addr', 'flush', 'dev', fromIf]);
    this.run(undefined, 'ip', ['-n', to.host, 'link', 'set', toIf, 'up']); // (down if the host left this network before)
    this.run(undefined, 'ip', ['-n', to.host, 'addr', 'add', `${to.hostIp}/26`, 'dev', toIf]);
    this.run(undefined, 'ip', ['-n', to.host, 'route', 'replace', 'default', 'via', `${a}.${b}.${c}.${d - 1}`]);
  }

  /** Start `node --import tsx <script> ...args` inside `ns`; stdout is collected line by line. */
  spawnNode(ns: string, script: string, args: string[], env: Record<string, string> = {}): LabProcess {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env },
    });
    const lines: string[] = [];
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts.filter((l) => l.length > 0));
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { if (stderr.length < 20_000) stderr += chunk; });
    const exited = new Promise<number>((res) => child.on('exit', (code) => {
      if (buf) lines.push(buf);
      if (code !== 0 && stderr) lines.push(`stderr: ${stderr.trim()}`);
      res(code ?? -1);
    }));
    const p = { child, lines, exited };
    this.processes.push(p);
    return p;
  }

  /** Kill every started process by PID, then delete every namespace. Safe to call twice. */
  async cleanup(): Promise<void> {
    for (const p of this.processes) {
      if (p.child.exitCode === null && p.child.signalCode === null && p.child.pid !== undefined) {
        try { process.kill(p.child.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    await Promise.all(this.processes.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 2000))])));
    this.processes.length = 0;
    for (const ns of this.namespaces.reverse()) {
      try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe' }); } catch { /* keep deleting the others */ }
    }
    this.namespaces.length = 0;
  }

  createdNamespaces(): readonly string[] {
    return this.namespaces;
  }
}
