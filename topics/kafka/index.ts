// The TopicBackend on Apache Kafka, through kafkajs: topics from the catalog via the admin client, an
// idempotent acks=all producer placing records with Kafka's own partitioner, consumer groups with
// resume-from-sink offsets. Same contract as the embedded log (test/integration/topic-backend-suite.ts).
import type { SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import type { Consumer, ConsumerOptions, TopicBackend } from '../types.ts';
import { KafkaTopicAdmin } from './admin.ts';
import { createKafkaClient } from './client.ts';
import { DEFAULT_CONSUMER_TUNING, KafkaGroupMembership, type KafkaConsumerTuning } from './consumer.ts';
import { KafkaBackendError } from './errors.ts';
import { KafkaRecordProducer } from './producer.ts';

export { KafkaBackendError, KafkaUnreachableError, UnknownKafkaTopicError } from './errors.ts';

export interface KafkaBackendOptions {
  /** Bootstrap brokers, host:port each. */
  brokers: string[];
  clientId?: string;
  ssl?: boolean | ConnectionOptions;
  sasl?: SASLOptions;
  /** Where errors from kafkajs and from failing handlers go, one line each. Default: stderr. */
  log?: (line: string) => void;
  consumer?: Partial<KafkaConsumerTuning>;
  /** How long a produce may take before it fails (ms); see producer.ts. */
  produceTimeoutMs?: number;
}

export function createKafkaBackend(options: KafkaBackendOptions): TopicBackend {
  const brokers = options.brokers.map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) throw new KafkaBackendError('no Kafka brokers given (KAFKA_BROKERS=host:port,...)');
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const kafka = createKafkaClient({ ...options, brokers, log });
  const admin = new KafkaTopicAdmin(kafka, brokers);
  // One producer per topic. A producer's sends are serialized (producer.ts), so with one producer for
  // everything the runtime's writes to internal topics queued behind every ingest send of the process
  // (seconds under load); per topic, only sends to the same topic wait for each other, and each topic's
  // records still leave this process in the order they were given.
  const producers = new Map<string, KafkaRecordProducer>();
  const producerFor = (topic: string) => {
    let producer = producers.get(topic);
    if (!producer) producers.set(topic, (producer = new KafkaRecordProducer(kafka, admin, brokers, options.produceTimeoutMs)));
    return producer;
  };
  const memberships = new Set<KafkaGroupMembership>();
  const tuning = { ...DEFAULT_CONSUMER_TUNING, ...options.consumer };
  let closed = false;

  const host = {
    kafka, admin, brokers, tuning,
    reportError: log,
    released: (membership: KafkaGroupMembership) => memberships.delete(membership),
  };
  const open = () => {
    if (closed) throw new KafkaBackendError('the Kafka backend is closed');
  };
  const join = (groupId: string, members: ConsumerOptions[]): Consumer[] => {
    open();
    // `partitions` (a fixed subset per worker) does not apply: the group protocol assigns partitions.
    const membership = new KafkaGroupMembership(host, groupId, members);
    memberships.add(membership);
    return membership.members;
  };

  return {
    kind: 'kafka',
    async ensureTopics(specs) { open(); await admin.ensureTopics(specs); },
    async produce(topic, records) { open(); return producerFor(topic).produce(topic, records); },
    consumer: (consumerOptions: ConsumerOptions) => join(consumerOptions.groupId, [consumerOptions])[0],
    consumerSet: join,
    committed: (groupId, topics) => admin.committed(groupId, topics),
    lag: (groupId, topics) => admin.lag(groupId, topics),
    endOffsets: (topic) => admin.endOffsets(topic),
    startOffsets: (topic) => admin.startOffsets(topic),
    retention: (topic) => admin.retention(topic),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...memberships].map((m) => m.stop()));
      await Promise.all([...producers.values()].map((p) => p.close()));
      await admin.close();
    },
  };
}
