// Which processors a replay rebuilds (processors/replay/plan.ts replaySet).
import { describe, expect, it } from 'vitest';
import { buildTopology } from '../../processors/topology.ts';
import { ReplayRefused, replaySet } from '../../processors/replay/index.ts';

const topology = buildTopology({ partitions: 2, celebrityFollowers: 100_000, feedLength: 800, trendingHalfLifeMinutes: 60 });

describe('replaySet', () => {
  it('rebuilds every processor that owns views, never a forwarder', () => {
    expect(replaySet(topology, 'all').sort()).toEqual(['abuse-bot-follows', 'engagement-counters', 'feed-fanout', 'seen-state', 'trending-hashtags']);
    expect(replaySet(topology, ['feed-fanout', 'feed-fanout'])).toEqual(['feed-fanout']);
  });

  it('refuses a forwarder by name: its replay would only append copies to its internal topic', () => {
    for (const forwarder of ['trending-hashtags-extract', 'engagement-deletions', 'abuse-follows-by-follower']) {
      expect(() => replaySet(topology, [forwarder])).toThrow(ReplayRefused);
      expect(() => replaySet(topology, [forwarder])).toThrow(`${forwarder} owns no views, it only forwards records to an internal topic`);
    }
    expect(() => replaySet(topology, ['nope'])).toThrow(/^unknown processor "nope" \(processors a replay rebuilds: feed-fanout, /);
  });
});
