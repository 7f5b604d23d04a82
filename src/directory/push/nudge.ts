// Nudging a device whose push channel may be dead: when a rendezvous for it is not
// acknowledged within `afterMs` (replay.ts: the device acks each one on its channel), the
// directory sends one STUN Binding indication from its STUN endpoint to the device's published
// server-reflexive candidates. The device answers with a ping on its push channel (a short
// deadline): a dead one is replaced at once and the replay (replay.ts) delivers the call.
// Contract: scheduleNudge(deps, deviceId, rendezvousId, candidates) — after afterMs, if the
// rendezvous is still unacknowledged, nudges at most 2 srflx candidates, at most once per
// device per minIntervalMs (a bounded map of the last nudge per device). Needs deps.nudge (an
// instance that serves STUN); otherwise does nothing. The timer is unref'd.
// nudgeTargetAllowed(address, port, loopbackOk): the candidates are the device's own claim, so
// the directory sends only to a unicast IPv4 address and a non-zero port — never 0.0.0.0/8,
// multicast, 240/4 or broadcast, and loopback (its own host's services) only when its STUN
// socket is itself on loopback (tests, a one-machine setup). Private addresses stay allowed
// (a LAN deployment's srflx candidates are private).
export interface NudgeDeps {
  readonly nudge?: (to: { address: string; port: number }) => void;
  readonly pending: (deviceId: string, id: string) => boolean;
  readonly now: () => number;
}

export function nudgeTargetAllowed(address: string, port: number, loopbackOk: boolean): boolean {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return false;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (!m) return false;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return false;
  if (o[0] === 0 || o[0] >= 224) return false; // "this network", multicast, reserved, broadcast
  if (o[0] === 127) return loopbackOk;
  return true;
}

export const NUDGE_AFTER_MS = 1_000;
const MIN_INTERVAL_MS = 1_000;
const MAX_TRACKED = 10_000;
const lastNudge = new Map<string, number>();

export function scheduleNudge(d: NudgeDeps, deviceId: string, id: string, candidates: readonly { kind: string; address: string; port: number }[], afterMs = NUDGE_AFTER_MS): void {
  const nudge = d.nudge;
  if (!nudge) return;
  const targets = candidates.filter((c) => c.kind === 'srflx').slice(0, 2);
  if (!targets.length) return;
  setTimeout(() => {
    if (!d.pending(deviceId, id)) return;
    const now = d.now();
    if (now - (lastNudge.get(deviceId) ?? -Infinity) < MIN_INTERVAL_MS) return;
    lastNudge.delete(deviceId);
    lastNudge.set(deviceId, now);
    if (lastNudge.size > MAX_TRACKED) lastNudge.delete(lastNudge.keys().next().value!);
    for (const t of targets) nudge({ address: t.address, port: t.port });
  }, afterMs).unref();
}
