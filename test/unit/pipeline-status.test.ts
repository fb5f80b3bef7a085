// Lag as /v1/status reports it (serving/status.ts): lag 0 must mean every view holds every record,
// also for a consumer of an internal topic whose forwarder flushes while the status is being read.
import { describe, expect, it } from 'vitest';
import { pipelineStatus, type ProcessorStatusSource } from '../../serving/status.ts';
import type { TopicBackend, TopicPartitionOffset } from '../../topics/types.ts';

/** Topic ends in memory: pipelineStatus reads nothing else from the backend. */
function topicEnds(ends: Record<string, number>): TopicBackend {
  const endOffsets = async (topic: string): Promise<TopicPartitionOffset[]> => [{ topic, partition: 0, offset: ends[topic] ?? 0 }];
  return { endOffsets } as unknown as TopicBackend;
}

describe('pipelineStatus', () => {
  it('a forwarder flushing between the reads never makes its consumer look caught up', async () => {
    // posts ──extract──▶ repartition ──score──▶ view. extract has read posts up to 5 of 10 and
    // forwarded them; score holds everything forwarded so far. The status lists score first, as the
    // live views do after a rebuild.
    const ends = { posts: 10, repartition: 5 };
    const held = { extract: 5, score: 5 };
    const score: ProcessorStatusSource = {
      name: 'score', inputs: ['repartition'],
      offsets: async () => [{ topic: 'repartition', partition: 0, offset: held.score }],
    };
    const extract: ProcessorStatusSource = {
      name: 'extract', inputs: ['posts'],
      offsets: async () => {
        // The forwarder's batch lands just now: internal records first, then its sink's offsets.
        ends.repartition = 10;
        held.extract = 10;
        return [{ topic: 'posts', partition: 0, offset: held.extract }];
      },
    };
    const status = await pipelineStatus(topicEnds(ends), [score, extract]);
    expect(status.processors).toEqual({ score: { lag: 5 }, extract: { lag: 0 } });
    expect(status.lag).toBe(5);
  });

  it('sums the lag of every input partition and adds each processor\'s details', async () => {
    const backend = topicEnds({ posts: 7, likes: 3 });
    const status = await pipelineStatus(backend, [
      { name: 'a', inputs: ['posts', 'likes'], offsets: async () => [{ topic: 'posts', partition: 0, offset: 2 }], details: () => ({ restoring: false }) },
      { name: 'b', inputs: ['likes'], offsets: async () => [{ topic: 'likes', partition: 0, offset: 3 }] },
    ]);
    expect(status).toEqual({ lag: 8, processors: { a: { lag: 8, restoring: false }, b: { lag: 0 } } });
  });
});
