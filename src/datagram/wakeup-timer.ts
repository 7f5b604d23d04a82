// One re-armable wake-up timer for a driver (the datagram Driver, the supernode's
// RelayBatchDriver): `arm(at)` keeps at most one clock timer, at the time the core asked for.
// Contract: arm(undefined) cancels; arm(same time) is a no-op; an armed EARLIER timer still in
// the future is kept when a later time is asked (it fires, the core finds nothing due, and the
// driver re-arms then), which saves a cancel + set per pass; `onFire` runs once per firing,
// after the timer state is cleared (so it may arm again). cancel() is idempotent.
import type { Clock, Millis, TimerHandle } from '../wire/socket.ts';

export class WakeupTimer {
  private timer: TimerHandle | undefined;
  private timerAt: Millis | undefined;

  constructor(private readonly clock: Clock, private readonly onFire: () => void) {}

  arm(at: Millis | undefined): void {
    if (at === this.timerAt) return;
    if (at !== undefined && this.timerAt !== undefined && this.timerAt <= at && this.timerAt > this.clock.now()) return;
    this.cancel();
    this.timerAt = at;
    if (at === undefined) return;
    this.timer = this.clock.setTimer(at, () => {
      this.timer = undefined;
      this.timerAt = undefined;
      this.onFire();
    });
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = undefined;
  }
}
