// The Kafka group assignment keeps a partition's inputs together: the fold of partition p needs
// posts/p and follows/p in one process (pure core; the broker round trip is in kafka-backend.test.ts).
import { describe, expect, it } from 'vitest';
import { assignCoPartitioned } from '../../topics/kafka/co-partitioned-assigner.ts';

const three = () => [0, 1, 2];
const member = (memberId: string, ...topics: string[]) => ({ memberId, topics: new Set(topics) });
const plain = (m: Map<string, Record<string, number[]>>) => Object.fromEntries(m);

describe('co-partitioned group assignment', () => {
  it('gives partition p of every topic to the same member, members in id order', () => {
    const result = assignCoPartitioned([member('m2', 'posts', 'follows'), member('m1', 'posts', 'follows')], three);
    expect(plain(result)).toEqual({
      m1: { follows: [0, 2], posts: [0, 2] },
      m2: { follows: [1], posts: [1] },
    });
  });

  it('gives a member beyond the partition count nothing, and every partition exactly once', () => {
    const result = assignCoPartitioned(['a', 'b', 'c', 'd'].map((id) => member(id, 'posts', 'follows')), three);
    expect(result.get('d')).toEqual({});
    const owners = [...result].flatMap(([id, topics]) => Object.entries(topics).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}:${id}`)));
    expect(owners.sort()).toEqual(['follows/0:a', 'follows/1:b', 'follows/2:c', 'posts/0:a', 'posts/1:b', 'posts/2:c']);
  });

  it('during a change of inputs, keeps partitions whole on the members that read every topic', () => {
    const result = assignCoPartitioned([member('old', 'posts'), member('new1', 'posts', 'follows'), member('new2', 'posts', 'follows')], three);
    expect(plain(result)).toEqual({ new1: { follows: [0, 2], posts: [0, 2] }, new2: { follows: [1], posts: [1] }, old: {} });
  });

  it('when no member reads every topic, deals each topic among its readers', () => {
    const result = assignCoPartitioned([member('x', 'posts'), member('y', 'follows')], three);
    expect(plain(result)).toEqual({ x: { posts: [0, 1, 2] }, y: { follows: [0, 1, 2] } });
  });
});
