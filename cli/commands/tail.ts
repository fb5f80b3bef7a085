import { loadConfig } from '../config.ts';
import { UserError } from '../errors.ts';
import { openBackbone } from '../platform.ts';
import { TOPICS } from '../../schemas/events.ts';
import { buildTopology } from '../../processors/topology.ts';
import { createRecordCodec, ORIGIN } from '../../processors/record-codec.ts';
import type { TopicRecord } from '../../topics/types.ts';

export async function tail(topic: string, options: { fromBeginning?: boolean; limit?: number }): Promise<void> {
  const config = loadConfig();
  const backbone = await openBackbone(config);
  const { backend, serde } = backbone;
  const known = await backend.endOffsets(topic).catch(() => undefined);
  if (!known?.length) {
    await backbone.close();
    throw new UserError(`unknown topic "${topic}" (see \`darkroom topics\`)`);
  }
  // An internal topic's records are a processor's values in an envelope with their origin: shown as the
  // value, with the origin beside it.
  const internal = buildTopology(config).internalTopics.find((spec) => spec.name === topic);
  const codec = internal
    ? await createRecordCodec({ serde, registry: backbone.registry, internalTopics: [internal], decodeRingSize: 0 })
    : undefined;
  const decodeInternal = async (record: TopicRecord) => {
    const { [ORIGIN]: origin, ...value } = (await codec!.decode(record)) as Record<string, unknown>;
    return { ...value, origin };
  };
  const decode = (record: TopicRecord) =>
    codec ? decodeInternal(record)
      : record.topic === TOPICS.deadLetters
        ? serde.decodeDeadLetter(record.value).then((l) => ({ ...l, raw: l.raw.toString('base64') }))
        : serde.decode(record.value);

  // A group of its own: tail never moves the offsets of a processor.
  const consumer = backend.consumer({
    groupId: `darkroom-tail-${process.pid}-${Date.now()}`,
    topics: [topic],
    reset: options.fromBeginning ? 'earliest' : 'latest',
  });
  let printed = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  await consumer.run({
    async eachBatch(batch) {
      for (const record of batch.records) {
        let value: unknown;
        try {
          value = await decode(record);
        } catch (error) {
          value = { undecodable: (error as Error).message, raw: record.value.toString('base64') };
        }
        // Partitions are read concurrently: count only after the await so --limit is exact.
        if (options.limit !== undefined && printed >= options.limit) return;
        process.stdout.write(`${JSON.stringify({
          topic: record.topic, partition: record.partition, offset: record.offset, key: record.key,
          timestamp: record.timestamp, value,
        })}\n`);
        if (options.limit !== undefined && ++printed >= options.limit) finish();
      }
    },
  });
  // Like `tail -f`, it waits for new records once it has shown what is there: say so at a terminal.
  if (process.stderr.isTTY) {
    process.stderr.write(`tail: following ${topic} from its ${options.fromBeginning ? 'start' : 'end'}${options.limit ? ` until ${options.limit} records` : ''}; Ctrl-C stops\n`);
  }
  const stop = () => finish();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await finished;
  await consumer.stop();
  await backbone.close();
}
