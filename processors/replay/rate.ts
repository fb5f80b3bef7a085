// The rate a replay's progress shows (terminal, /v1/status), and the time left it implies.
//
// A rebuild applies large batches (processors/replay/batching.ts REBUILD_BATCHING): feed-fanout's land seconds
// apart, so a rate measured since the previous refresh (one second) read "0 records/s, ~? s left"
// most of the time and jumped between batches. The rate is taken over a window of the last
// WINDOW_MS instead, and over the whole run while nothing landed in the window.

const WINDOW_MS = 30_000;

export class ReplayRate {
  /** Samples in time order; the first is the newest one at or before the window's start. */
  private readonly samples: Array<{ at: number; replayed: number }> = [];

  constructor(private readonly startedAt: number, private readonly windowMs = WINDOW_MS) {}

  /** Records `replayed` records at time `at` (ms) and returns the records per second to show. */
  record(at: number, replayed: number): number {
    const samples = this.samples;
    samples.push({ at, replayed });
    while (samples.length > 2 && samples[1].at <= at - this.windowMs) samples.shift();
    const first = samples[0];
    const recent = at > first.at ? (replayed - first.replayed) / ((at - first.at) / 1000) : 0;
    const overall = at > this.startedAt ? replayed / ((at - this.startedAt) / 1000) : 0;
    return Math.max(0, Math.round(recent > 0 ? recent : overall));
  }
}

/** Seconds until `lag` records are replayed at `perSecond`; null while no rate is known. */
export function secondsLeft(lag: number, perSecond: number): number | null {
  return perSecond > 0 ? Math.ceil(lag / perSecond) : null;
}
