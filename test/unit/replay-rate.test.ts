import { describe, expect, it } from 'vitest';
import { ReplayRate, secondsLeft } from '../../processors/replay/rate.ts';

describe('replay progress rate', () => {
  it('measures over the last window, not since the previous refresh', () => {
    const rate = new ReplayRate(0, 10_000);
    // A batch of 50k records lands every 5 s; progress is refreshed every second.
    const shown: number[] = [];
    for (let second = 1; second <= 30; second++) shown.push(rate.record(second * 1000, Math.floor(second / 5) * 50_000));
    // Between batches the rate since the previous refresh is 0; over the window it stays ~10k/s.
    expect(shown.slice(10).every((r) => r >= 8_000 && r <= 12_500)).toBe(true);
  });

  it('falls back to the whole run while nothing landed in the window, and says nothing before any record', () => {
    const rate = new ReplayRate(0, 10_000);
    expect(rate.record(1000, 0)).toBe(0);
    expect(rate.record(5000, 100_000)).toBe(25_000);
    // 20 s later nothing more: the window shows 0, the run averaged 100k over 25 s.
    expect(rate.record(25_000, 100_000)).toBe(4_000);
    expect(secondsLeft(40_000, 4_000)).toBe(10);
    expect(secondsLeft(40_000, 0)).toBeNull();
  });
});
