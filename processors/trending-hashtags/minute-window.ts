// Uses of one tag in the last hour of event time, in minute buckets: at most 60 small entries per tag,
// and the answer is exact to the minute however many uses there were.

const MINUTE_MS = 60_000;

export class MinuteWindow {
  private readonly minutes: number[] = [];
  private readonly counts: number[] = [];
  /** Sum of `counts`, kept up to date so reading the window costs nothing. */
  private total = 0;

  constructor(private readonly widthMinutes = 60) {}

  /** Counts one use at `ts`; uses that already left the window (relative to `now`) are ignored. */
  add(ts: number, now: number): void {
    const minute = Math.floor(ts / MINUTE_MS);
    if (minute <= this.oldestKeptMinute(now) - 1) return;
    this.total++;
    const last = this.minutes.length - 1;
    if (last >= 0 && this.minutes[last] === minute) {
      this.counts[last]++;
    } else if (last < 0 || this.minutes[last] < minute) {
      this.minutes.push(minute);
      this.counts.push(1);
    } else {
      // Late event: find its bucket among the (at most 60) kept ones.
      let i = last;
      while (i >= 0 && this.minutes[i] > minute) i--;
      if (i >= 0 && this.minutes[i] === minute) this.counts[i]++;
      else { this.minutes.splice(i + 1, 0, minute); this.counts.splice(i + 1, 0, 1); }
    }
  }

  /** Uses in the `widthMinutes` minutes ending with the minute of `now`. */
  countAt(now: number): number {
    this.prune(now);
    return this.total;
  }

  isEmptyAt(now: number): boolean {
    this.prune(now);
    return this.minutes.length === 0;
  }

  private oldestKeptMinute(now: number): number {
    return Math.floor(now / MINUTE_MS) - this.widthMinutes + 1;
  }

  private prune(now: number): void {
    const oldest = this.oldestKeptMinute(now);
    let drop = 0;
    while (drop < this.minutes.length && this.minutes[drop] < oldest) this.total -= this.counts[drop++];
    if (drop) { this.minutes.splice(0, drop); this.counts.splice(0, drop); }
  }
}
