import type { Consumer, ConsumerOptions, EnsureTopicsOptions, TopicBackend, TopicPartitionOffset, TopicSpec } from './types.ts';

/**
 * Several darkroom deployments (or test runs) can share one Kafka cluster: each sees its logical
 * topic names while the cluster holds `<namespace>.<name>` (and groups `<namespace>.<group>`).
 */
export function namespacedBackend(inner: TopicBackend, namespace: string): TopicBackend {
  if (!namespace) return inner;
  const out = (topic: string) => `${namespace}.${topic}`;
  const back = (topic: string) => (topic.startsWith(`${namespace}.`) ? topic.slice(namespace.length + 1) : topic);
  const backAll = <T extends { topic: string }>(list: T[]): T[] => list.map((x) => ({ ...x, topic: back(x.topic) }));
  const outAll = <T extends { topic: string }>(list: T[]): T[] => list.map((x) => ({ ...x, topic: out(x.topic) }));
  const group = (g: string) => `${namespace}.${g}`;
  const inside = (options: ConsumerOptions): ConsumerOptions => ({ ...options, groupId: group(options.groupId), topics: options.topics.map(out) });
  const renamed = (c: Consumer): Consumer => ({
    run: (run) => c.run({
      eachBatch: (batch) => {
        // The records are this delivery's own objects, renamed in place, not copied (hot path). A
        // consumer set hands the same objects to each of its consumers: renaming twice is harmless.
        const topic = back(batch.topic);
        for (const record of batch.records) record.topic = topic;
        return run.eachBatch({ ...batch, topic });
      },
      onAssigned: run.onAssigned
        ? async (tps, context) => {
          const offsets = await run.onAssigned!(backAll(tps), context);
          return offsets ? outAll(offsets as TopicPartitionOffset[]) : offsets;
        }
        : undefined,
      onRevoked: run.onRevoked ? (tps) => run.onRevoked!(backAll(tps)) : undefined,
    }),
    commit: (offsets) => c.commit(outAll(offsets)),
    seekToBeginning: (topic) => c.seekToBeginning(topic === undefined ? undefined : out(topic)),
    stop: () => c.stop(),
  });
  return {
    kind: inner.kind,
    ensureTopics: (specs: TopicSpec[], options?: EnsureTopicsOptions) => inner.ensureTopics(specs.map((s) => ({ ...s, name: out(s.name) })), options),
    async produce(topic, records) { return backAll(await inner.produce(out(topic), records)); },
    consumer: (options: ConsumerOptions) => renamed(inner.consumer(inside(options))),
    ...(inner.consumerSet
      ? { consumerSet: (groupId: string, members: ConsumerOptions[]) => inner.consumerSet!(group(groupId), members.map(inside)).map(renamed) }
      : {}),
    async committed(groupId, topics) { return backAll(await inner.committed(group(groupId), topics.map(out))); },
    async lag(groupId, topics) { return backAll(await inner.lag(group(groupId), topics.map(out))); },
    async endOffsets(topic) { return backAll(await inner.endOffsets(out(topic))); },
    async startOffsets(topic) { return backAll(await inner.startOffsets(out(topic))); },
    retention: (topic) => inner.retention(out(topic)),
    close: () => inner.close(),
  };
}
