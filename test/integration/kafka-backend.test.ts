// The topic-backend contract on a real Apache Kafka broker (infra/services.sh start kafka), plus what
// only the Kafka backend has to get right: topic configs from the catalog, a clear error when no broker
// answers, and partitioning that agrees with a foreign client (kcat / librdkafka's murmur2 partitioner).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel, ConfigResourceTypes } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaBackend } from '../../topics/kafka/index.ts';
import { partitionFor } from '../../topics/partitioner.ts';
import type { TopicBackend, TopicSpec } from '../../topics/types.ts';
import { describeWith, SERVICES } from '../services.ts';
import { runTopicBackendSuite } from './topic-backend-suite.ts';

const run = promisify(execFile);
const brokers = SERVICES.kafka.split(',');
const runId = `${Date.now().toString(36)}-${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
const unique = (label: string) => `kafka-${label}-${runId}`;
const spec = (name: string, partitions: number, extra: Partial<TopicSpec> = {}): TopicSpec =>
  ({ name, partitions, key: 'k', retentionMs: -1, retentionBytes: -1, compacted: false, ...extra });

const errors: string[] = [];
afterAll(() => { if (errors.length) console.log(`kafkajs/handler errors reported:\n${errors.join('\n')}`); });
const makeBackend = async () => createKafkaBackend({ brokers, clientId: 'darkroom-test', log: (line) => errors.push(line) });

describeWith(['kafka'], 'Kafka topic backend', () => {
  runTopicBackendSuite('kafka', makeBackend, { waitMs: 30_000 });

  describe('kafka specifics', () => {
    let backend: TopicBackend;
    beforeAll(async () => { backend = await makeBackend(); });
    afterAll(async () => { await backend?.close(); });

    it('creates topics with the catalog retention and cleanup policy', async () => {
      const compacted = spec(unique('compacted'), 2, { compacted: true });
      const bounded = spec(unique('bounded'), 3, { retentionMs: 3_600_000, retentionBytes: 1_048_576 });
      await backend.ensureTopics([compacted, bounded]);

      const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        const { resources } = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [compacted, bounded].map((t) => ({
            type: ConfigResourceTypes.TOPIC, name: t.name, configNames: ['cleanup.policy', 'retention.ms', 'retention.bytes'],
          })),
        });
        const configOf = (name: string) => Object.fromEntries(
          resources.find((r) => r.resourceName === name)!.configEntries.map((e) => [e.configName, e.configValue]));
        expect(configOf(compacted.name)).toEqual({ 'cleanup.policy': 'compact', 'retention.ms': '-1', 'retention.bytes': '-1' });
        expect(configOf(bounded.name)).toEqual({ 'cleanup.policy': 'delete', 'retention.ms': '3600000', 'retention.bytes': '1048576' });
        expect(await backend.retention(bounded.name)).toEqual({ ms: 3_600_000, bytes: 1_048_576, compacted: false });
        expect((await backend.retention(compacted.name)).compacted).toBe(true);
      } finally {
        await admin.disconnect();
      }
    });

    it('refuses a catalog whose partition count differs from the existing topic', async () => {
      const topic = spec(unique('resized'), 2);
      await backend.ensureTopics([topic]);
      await expect(backend.ensureTopics([{ ...topic, partitions: 4 }]))
        .rejects.toThrow(`Kafka topic "${topic.name}" has 2 partitions but the catalog says 4`);
    });

    it('names the unknown topic when producing to one that does not exist', async () => {
      await expect(backend.produce(unique('missing'), [{ key: 'k', value: Buffer.from('x') }]))
        .rejects.toThrow(/unknown Kafka topic "kafka-missing-.*"; create it with ensureTopics first/);
    });

    it('retries a failing onAssigned and delivers nothing before it succeeds', async () => {
      const topic = spec(unique('assign-retry'), 1);
      await backend.ensureTopics([topic]);
      await backend.produce(topic.name, Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })));
      let attempts = 0;
      const delivered: { offset: number; afterAttempts: number }[] = [];
      const consumer = backend.consumer({ groupId: unique('assign-retry-g'), topics: [topic.name] });
      await consumer.run({
        async onAssigned() {
          if (++attempts === 1) throw new Error('sink not reachable yet');
          return [{ topic: topic.name, partition: 0, offset: 3 }];
        },
        async eachBatch(batch) { for (const r of batch.records) delivered.push({ offset: r.offset, afterAttempts: attempts }); },
      });
      const deadline = Date.now() + 30_000;
      while (delivered.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await consumer.stop();
      expect(delivered).toEqual([{ offset: 3, afterAttempts: 2 }, { offset: 4, afterAttempts: 2 }]);
      expect(errors.some((line) => line.includes('sink not reachable yet'))).toBe(true);
    });

    it('gives every input topic\'s partition p to the same group member (co-partitioning)', async () => {
      // Two topics of three partitions, two members: kafkajs' round-robin would deal out
      // [a/0 a/1 a/2 b/0 b/1 b/2] alternately and split a/0 from b/0.
      const a = spec(unique('copart-a'), 3);
      const b = spec(unique('copart-b'), 3);
      await backend.ensureTopics([a, b]);
      const groupId = unique('copart-g');
      const held = [new Map<string, number>(), new Map<string, number>()];
      const members = held.map((mine) => {
        const consumer = backend.consumer({ groupId, topics: [a.name, b.name] });
        return { consumer, run: () => consumer.run({
          async onAssigned(partitions) { mine.clear(); for (const p of partitions) mine.set(`${p.topic === a.name ? 'a' : 'b'}/${p.partition}`, p.partition); return []; },
          async onRevoked() { mine.clear(); },
          async eachBatch() {},
        }) };
      });
      try {
        await Promise.all(members.map((m) => m.run()));
        const settled = () => held[0].size > 0 && held[1].size > 0 && held[0].size + held[1].size === 6;
        const deadline = Date.now() + 45_000;
        while (!settled() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(settled()).toBe(true);
        for (const mine of held) {
          const partitions = new Set(mine.values());
          expect([...mine.keys()].sort()).toEqual([...partitions].flatMap((p) => [`a/${p}`, `b/${p}`]).sort());
        }
      } finally {
        await Promise.all(members.map((m) => m.consumer.stop()));
      }
    }, 60_000);

    it('tells onAssigned whether other members share the group: not a member alone, both once a second joins', async () => {
      const topic = spec(unique('others'), 2);
      await backend.ensureTopics([topic]);
      const groupId = unique('others-g');
      const told: boolean[][] = [[], []];
      const members = told.map((mine) => {
        const consumer = backend.consumer({ groupId, topics: [topic.name] });
        return { consumer, run: () => consumer.run({ async onAssigned(_partitions, context) { mine.push(context!.othersInGroup); return []; }, async eachBatch() {} }) };
      });
      try {
        await members[0].run();
        expect(told[0]).toEqual([false]);
        await members[1].run();
        const deadline = Date.now() + 45_000;
        while ((told[0].length < 2 || told[1].length < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect({ first: told[0], second: told[1] }).toEqual({ first: [false, true], second: [true] });
      } finally {
        await Promise.all(members.map((m) => m.consumer.stop()));
      }
    }, 60_000);

    it('commits a stopping member\'s last offsets through its membership, and refuses to rejoin for a commit later', async () => {
      // A commit after leaving would join the group as a stray member (kafkajs admin.setOffsets), with
      // kafkajs' own assigner, racing the processor that replaces this one.
      const topic = spec(unique('leave-commit'), 1);
      await backend.ensureTopics([topic]);
      await backend.produce(topic.name, Array.from({ length: 3 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })));
      const groupId = unique('leave-commit-g');
      const consumer = backend.consumer({ groupId, topics: [topic.name] });
      let delivered = 0;
      await consumer.run({
        async eachBatch(batch) { delivered += batch.records.length; },
        async onRevoked() { void consumer.commit([{ topic: topic.name, partition: 0, offset: delivered }]); },
      });
      const deadline = Date.now() + 30_000;
      while (delivered < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await consumer.stop();
      expect(await backend.committed(groupId, [topic.name])).toEqual([{ topic: topic.name, partition: 0, offset: 3 }]);
      await expect(consumer.commit([{ topic: topic.name, partition: 0, offset: 1 }])).rejects.toThrow(/has left the group/);
    });

    it('hands a batch whose handler failed to the handler again, then goes on', async () => {
      const topic = spec(unique('handler-retry'), 1);
      await backend.ensureTopics([topic]);
      await backend.produce(topic.name, Array.from({ length: 4 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })));
      const calls: number[][] = [];
      const consumer = backend.consumer({ groupId: unique('handler-retry-g'), topics: [topic.name], maxBatchRecords: 2 });
      await consumer.run({
        async eachBatch(batch) {
          calls.push(batch.records.map((r) => r.offset));
          if (calls.length === 1) throw new Error('view store hiccup');
        },
      });
      const deadline = Date.now() + 30_000;
      while (calls.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await consumer.stop();
      expect(calls).toEqual([[0, 1], [0, 1], [2, 3]]);
    });

    it('a consumer set fetches once for all its consumers: each gets its own topics from its own position, commits take the lowest', async () => {
      const shared = spec(unique('set-shared'), 2);
      const own = spec(unique('set-own'), 2);
      await backend.ensureTopics([shared, own]);
      const values = (n: number) => Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(String(i)), partition: i % 2 }));
      await backend.produce(shared.name, values(10));
      await backend.produce(own.name, values(4));
      const groupId = unique('set-g');
      const [fromStart, resumed] = backend.consumerSet!(groupId, [
        { groupId: `${groupId}-a`, topics: [shared.name, own.name] },
        { groupId: `${groupId}-b`, topics: [shared.name], maxBatchRecords: 1 },
      ]);
      const seen = { a: [] as string[], b: [] as string[] };
      const runs = [
        fromStart.run({
          async eachBatch(batch) { for (const r of batch.records) seen.a.push(`${r.topic === own.name ? 'own' : 'shared'}/${r.partition}/${r.offset}`); },
          async onAssigned(tps) { return tps.map((tp) => ({ ...tp, offset: 0 })); },
        }),
        resumed.run({
          async eachBatch(batch) {
            expect(batch.records).toHaveLength(1);
            seen.b.push(`shared/${batch.partition}/${batch.records[0].offset}`);
          },
          async onAssigned(tps) { return tps.map((tp) => ({ ...tp, offset: 3 })); },
        }),
      ];
      await Promise.all(runs);
      const deadline = Date.now() + 30_000;
      while ((seen.a.length < 14 || seen.b.length < 4) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(seen.a.sort()).toEqual([
        ...['own/0/0', 'own/0/1', 'own/1/0', 'own/1/1'],
        ...[0, 1, 2, 3, 4].flatMap((o) => [`shared/0/${o}`, `shared/1/${o}`]),
      ].sort());
      expect(seen.b.sort()).toEqual(['shared/0/3', 'shared/0/4', 'shared/1/3', 'shared/1/4']);

      // Only a partition that every reader committed is committed, at the lowest of theirs.
      await resumed.commit([{ topic: shared.name, partition: 0, offset: 5 }, { topic: shared.name, partition: 1, offset: 4 }]);
      await fromStart.commit([{ topic: shared.name, partition: 0, offset: 2 }, { topic: own.name, partition: 1, offset: 2 }]);
      const committed = async (topic: string) => (await backend.committed(groupId, [topic])).map((c) => c.offset);
      expect(await committed(shared.name)).toEqual([2, -1]);
      expect(await committed(own.name)).toEqual([-1, 2]);

      // One consumer stops; the other goes on receiving new records, then the group is left.
      await resumed.stop();
      await backend.produce(shared.name, [{ key: null, value: Buffer.from('late'), partition: 1 }]);
      while (!seen.a.includes('shared/1/5') && Date.now() < deadline + 30_000) await new Promise((r) => setTimeout(r, 20));
      expect(seen.a).toContain('shared/1/5');
      expect(seen.b).toHaveLength(4);
      await fromStart.stop();
      await expect(fromStart.commit([{ topic: own.name, partition: 0, offset: 1 }])).rejects.toThrow(/has left the group/);
    });

    it('a rollout that adds a processor: the group gives every partition to the set that reads every topic, none to the old one', async () => {
      const posts = spec(unique('rollout-posts'), 2);
      const added = spec(unique('rollout-added'), 2);
      await backend.ensureTopics([posts, added]);
      const groupId = unique('rollout-g');
      // What each consumer was last given, by side and consumer.
      const owned = new Map<string, string[]>();
      const ownedBy = (side: string) => [...new Set([...owned].filter(([k]) => k.startsWith(side)).flatMap(([, tps]) => tps))].sort();
      const join = (side: 'old' | 'next', topics: string[][]) => {
        const consumers = backend.consumerSet!(groupId, topics.map((t, i) => ({ groupId: `${side}-${i}`, topics: t })));
        return Promise.all(consumers.map((c, i) => c.run({
          async eachBatch() {},
          async onAssigned(tps) { owned.set(`${side}-${i}`, tps.map((tp) => `${tp.topic}/${tp.partition}`)); },
        }))).then(() => consumers);
      };
      const old = await join('old', [[posts.name], [posts.name]]);
      const next = await join('next', [[posts.name], [posts.name, added.name]]);
      const deadline = Date.now() + 30_000;
      while ((ownedBy('old').length > 0 || ownedBy('next').length < 4) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(ownedBy('old')).toEqual([]);
      expect(ownedBy('next')).toEqual([`${added.name}/0`, `${added.name}/1`, `${posts.name}/0`, `${posts.name}/1`].sort());
      await Promise.all([...old, ...next].map((c) => c.stop()));
    });

    it('a consumer set joins once all its consumers run; one stopped before that releases the others with an error', async () => {
      const topic = spec(unique('set-abandoned'), 1);
      await backend.ensureTopics([topic]);
      const [waiting, abandoned] = backend.consumerSet!(unique('set-abandoned-g'), [
        { groupId: 'a', topics: [topic.name] }, { groupId: 'b', topics: [topic.name] },
      ]);
      const run = waiting.run({ async eachBatch() {} });
      const settled = await Promise.race([run.then(() => 'joined', () => 'failed'), new Promise((r) => setTimeout(() => r('waiting'), 300))]);
      expect(settled).toBe('waiting');
      await abandoned.stop();
      await expect(run).rejects.toThrow(/stopped before they started/);
    });

    it('puts a key in the same partition as a foreign client with the murmur2 partitioner (kcat)', async (ctx) => {
      const kcat = await run('kcat', ['-V']).then(() => true, () => false);
      if (!kcat) {
        if (process.env.CI === 'true') throw new Error('kcat not installed (run: bash infra/install.sh)');
        ctx.skip();
      }
      const topic = spec(unique('kcat'), 5);
      await backend.ensureTopics([topic]);
      const keys = Array.from({ length: 30 }, (_, i) => `user-${i}-ü`);
      const child = execFile('kcat', ['-P', '-b', brokers[0], '-t', topic.name, '-K', '\t', '-X', 'partitioner=murmur2_random']);
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.stdin!.end(keys.map((k) => `${k}\tfrom-kcat`).join('\n') + '\n');
      expect(await exited).toBe(0);

      const seen = new Map<string, number>();
      const consumer = backend.consumer({ groupId: unique('kcat-g'), topics: [topic.name] });
      await consumer.run({ async eachBatch(batch) { for (const r of batch.records) seen.set(r.key!, r.partition); } });
      const deadline = Date.now() + 30_000;
      while (seen.size < keys.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await consumer.stop();
      expect(seen.size).toBe(keys.length);
      for (const key of keys) expect(seen.get(key), key).toBe(partitionFor(key, 5));
    });
  });
});

describe('Kafka backend without a broker', () => {
  it('fails with one clear line naming the brokers', async () => {
    const lines: string[] = [];
    const backend = createKafkaBackend({ brokers: ['127.0.0.1:1'], log: (line) => lines.push(line) });
    const error = await backend.endOffsets('anything').then(() => undefined, (e: Error) => e);
    await backend.close();
    expect(error?.message).toBe('cannot reach Kafka at 127.0.0.1:1 (connection refused)');
    expect(error?.message).not.toContain('\n');
  });

  it('refuses an empty broker list', () => {
    expect(() => createKafkaBackend({ brokers: [' '] })).toThrow('no Kafka brokers given');
  });
});
