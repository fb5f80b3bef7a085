// The numbers behind the dashboard, on the real embedded log: a known write rate must come out as that
// events/s, and a sink that holds records back for a known time must show that latency.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopicBackend } from '../../topics/index.ts';
import type { TopicBackend, TopicPartitionOffset, TopicSpec } from '../../topics/types.ts';
import { DashboardSampler } from '../../serving/dashboard/stats.ts';
import type { ProcessorStatusSource } from '../../serving/status.ts';
import { eventually, sleep, tempDataDir } from '../helpers/tmp.ts';

const TICK_MS = 20;
const spec = (name: string, internal = false): TopicSpec => ({
  name, partitions: 2, key: 'test', retentionMs: -1, retentionBytes: -1, compacted: false, internal,
});
const records = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`v${i}`), partition: 0 }));

describe('dashboard stats on the embedded log', () => {
  const data = tempDataDir('darkroom-dashboard-stats-');
  let backend: TopicBackend;

  beforeAll(async () => {
    backend = await createTopicBackend({ dataDir: data.dir });
    await backend.ensureTopics([spec('posts'), spec('engagement'), spec('posts-repartition', true)]);
  });
  afterAll(async () => {
    await backend?.close();
    data.remove();
  });

  it('measures event-to-view latency from the record becoming visible to the sink holding it', async () => {
    // "slow" holds records back for a known time; "fast" holds whatever is on the topic the moment it is asked.
    let slowHeld: TopicPartitionOffset[] = [];
    const slow: ProcessorStatusSource = { name: 'slow', inputs: ['posts'], offsets: async () => slowHeld };
    const fast: ProcessorStatusSource = { name: 'fast', inputs: ['posts'], offsets: () => backend.endOffsets('posts') };
    const sampler = new DashboardSampler({ backend, processors: () => [slow, fast], topics: () => ['posts'], tickMs: TICK_MS });
    try {
      sampler.ensureRunning();
      await eventually(async () => sampler.snapshot().sampled_at !== null, 5_000, 'a first sample');
      await sleep(3 * TICK_MS);

      const [last] = (await backend.produce('posts', records(5))).slice(-1);
      const visibleAt = Date.now();
      await sleep(400);
      const waiting = sampler.snapshot().latency.slow!;
      expect(waiting.samples).toBe(0);
      expect(waiting.waiting_ms).toBeGreaterThanOrEqual(400 - 3 * TICK_MS);

      slowHeld = [{ topic: 'posts', partition: 0, offset: last!.offset + 1 }];
      const heldAt = Date.now();
      const measured = await eventually(async () => {
        const l = sampler.snapshot().latency.slow!;
        return l.samples > 0 ? l : undefined;
      }, 5_000, 'the slow sink to be measured');
      const truth = heldAt - visibleAt;
      // Each instant is noticed at most one tick late; the slack covers a busy machine's timer delays.
      expect(measured.last_ms!).toBeGreaterThanOrEqual(truth - 2 * TICK_MS);
      expect(measured.last_ms!).toBeLessThanOrEqual(truth + 2 * TICK_MS + 150);
      expect(measured.waiting_ms).toBe(0);

      const quick = sampler.snapshot().latency.fast!;
      expect(quick.samples).toBeGreaterThan(0);
      expect(quick.max_ms!).toBeLessThanOrEqual(2 * TICK_MS + 150);
    } finally {
      await sampler.close();
    }
  });

  it('reports the write rate per topic and sums only the source topics into events/s', async () => {
    const sampler = new DashboardSampler({
      backend, processors: () => [], topics: () => ['posts', 'engagement', 'posts-repartition'], tickMs: TICK_MS, rateWindowMs: 1_000,
    });
    try {
      sampler.ensureRunning();
      await eventually(async () => sampler.snapshot().sampled_at !== null, 5_000, 'a first sample');
      const started = Date.now();
      let written = 0;
      let during: ReturnType<DashboardSampler['snapshot']> | undefined;
      // ~400 records/s on posts, ~200/s on engagement, ~400/s on the internal topic, for 2.5 s.
      while (Date.now() - started < 2_500) {
        await Promise.all([backend.produce('posts', records(20)), backend.produce('engagement', records(10)), backend.produce('posts-repartition', records(20))]);
        written += 20;
        await sleep(50);
        if (Date.now() - started > 2_000 && !during) during = sampler.snapshot();
      }
      const actual = written / ((Date.now() - started) / 1000);
      const posts = during!.topics.posts!;
      expect(posts.kind).toBe('source');
      expect(posts.events_per_sec!).toBeGreaterThan(actual * 0.6);
      expect(posts.events_per_sec!).toBeLessThan(actual * 1.5);
      expect(during!.topics['posts-repartition']!.kind).toBe('internal');
      // The headline is posts + engagement (≈ 1.5 × posts), not the internal topic's copies.
      const sources = posts.events_per_sec! + during!.topics.engagement!.events_per_sec!;
      expect(during!.events_per_sec!).toBeCloseTo(sources, 0);
      expect(during!.events_per_sec!).toBeLessThan(posts.events_per_sec! * 1.8);

      await sleep(1_300); // nothing written for longer than the window: the rate falls to 0
      expect(sampler.snapshot().topics.posts!.events_per_sec).toBe(0);
    } finally {
      await sampler.close();
    }
  });
});
