// Nudging a device whose push channel may be dead: when a rendezvous for it is not
// acknowledged within `afterMs` (replay.ts: the device acks each one on its channel), the
// directory sends one STUN Binding indication from its STUN endpoint to the device's published
// server-reflexive candidates. The device answers with a ping on its push channel (a short
// deadline): a dead one is replaced at once and the replay (replay.ts) delivers the call.
// Contract: scheduleNudge(deps, deviceId, rendezvousId, candidates) — after afterMs, if the
// rendezvous is still unacknowledged, nudges at most 2 srflx candidates, at most once per
// device per minIntervalMs (a bounded map of the last nudge per device). Needs deps.nudge (an
// instance that serves STUN); otherwise does nothing. The timer is unref'd.
export interface NudgeDeps {
  readonly nudge?: (to: { address: string; port: number }) => void;
  readonly pending: (deviceId: string, id: string) => boolean;
  readonly now: () => number;
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
