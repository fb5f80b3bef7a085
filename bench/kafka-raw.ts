// Raw kafkajs throughput on 200-byte records against a real broker: the ceiling the Kafka backend and
// everything above it work under. Compares plain kafkajs with the darkroom Kafka backend (idempotent,
// acks=all, explicit murmur2 partitions, one send in flight). Last, large produce calls (20,000 records,
// what a catching-up processor writes to a repartition topic): one kafkajs send against sends of 2,000,
// and the backend's produce of the same, with the CPU each took.
//   npx tsx bench/kafka-raw.ts [brokers=127.0.0.1:19092] [records=200000]
import { Kafka, logLevel } from 'kafkajs';
import { createKafkaBackend } from '../topics/kafka/index.ts';

const brokers = (process.argv[2] ?? '127.0.0.1:19092').split(',');
const total = Number(process.argv[3] ?? 200_000);
const RECORD_BYTES = 200;
const SEND_SIZE = 1_000;
const PARTITIONS = 8;
const run = Date.now().toString(36);

const kafka = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.ERROR });
const value = Buffer.alloc(RECORD_BYTES - 12, 'x');
const keyOf = (i: number) => `user-${(i % 10_000).toString().padStart(6, '0')}`; // 11 bytes of key

function rate(label: string, count: number, ms: number): void {
  const perSec = (count / ms) * 1000;
  console.log(`${label.padEnd(58)} ${Math.round(perSec).toLocaleString('en-US').padStart(9)} records/s  ${((perSec * RECORD_BYTES) / 1e6).toFixed(1).padStart(5)} MB/s  (${count} in ${(ms / 1000).toFixed(2)} s)`);
}

async function createTopic(admin: ReturnType<Kafka['admin']>, topic: string) {
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] });
}

async function produceRaw(topic: string, options: { idempotent: boolean; concurrency: number }): Promise<number> {
  const producer = kafka.producer(options.idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {});
  await producer.connect();
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const from = next;
      next += SEND_SIZE;
      const messages = Array.from({ length: Math.min(SEND_SIZE, total - from) }, (_, j) => ({ key: keyOf(from + j), value }));
      await producer.send({ topic, acks: -1, messages });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const ms = performance.now() - started;
  await producer.disconnect();
  return ms;
}

const LARGE_CALL = 20_000;

/** Wall time and this process' CPU time of `work`. */
async function timed(work: () => Promise<void>): Promise<{ ms: number; cpuMs: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  await work();
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

/** `total` records in produce calls of LARGE_CALL, each split into kafkajs sends of `sendSize`. */
async function produceLargeCalls(topic: string, sendSize: number): Promise<{ ms: number; cpuMs: number }> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const result = await timed(async () => {
    for (let call = 0; call < total; call += LARGE_CALL) {
      const messages = Array.from({ length: Math.min(LARGE_CALL, total - call) }, (_, j) => ({ key: keyOf(call + j), value, partition: (call + j) % PARTITIONS }));
      for (let i = 0; i < messages.length; i += sendSize) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + sendSize) });
    }
  });
  await producer.disconnect();
  return result;
}

async function backendLargeCalls(topic: string): Promise<{ ms: number; cpuMs: number }> {
  const backend = createKafkaBackend({ brokers, clientId: 'bench-backend-large' });
  await backend.ensureTopics([{ name: topic, partitions: PARTITIONS, key: 'user', retentionMs: -1, retentionBytes: -1, compacted: false }]);
  const result = await timed(async () => {
    for (let call = 0; call < total; call += LARGE_CALL) {
      await backend.produce(topic, Array.from({ length: Math.min(LARGE_CALL, total - call) }, (_, j) => ({ key: keyOf(call + j), value })));
    }
  });
  await backend.close();
  return result;
}

async function consumeRaw(topic: string): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-${topic}`, maxWaitTimeInMs: 250 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let started = 0;
  const done = new Promise<number>((resolve) => {
    void consumer.run({
      partitionsConsumedConcurrently: PARTITIONS,
      eachBatch: async ({ batch }) => {
        if (started === 0) started = performance.now();
        seen += batch.messages.length;
        if (seen >= total) resolve(performance.now() - started);
      },
    });
  });
  const ms = await done;
  await consumer.disconnect();
  return ms;
}

async function backendRoundTrip(): Promise<{ produceMs: number; consumeMs: number }> {
  const backend = createKafkaBackend({ brokers, clientId: 'bench-backend' });
  const topic = `bench-backend-${run}`;
  await backend.ensureTopics([{ name: topic, partitions: PARTITIONS, key: 'user', retentionMs: -1, retentionBytes: -1, compacted: false }]);
  const started = performance.now();
  // Callers of the backend produce concurrently (one call per topic and request); it serializes them.
  await Promise.all(Array.from({ length: total / SEND_SIZE }, (_, s) => backend.produce(topic,
    Array.from({ length: SEND_SIZE }, (_, j) => ({ key: keyOf(s * SEND_SIZE + j), value })))));
  const produceMs = performance.now() - started;

  let seen = 0;
  let consumeStart = 0;
  const consumer = backend.consumer({ groupId: `bench-backend-${run}`, topics: [topic] });
  const consumeMs = await new Promise<number>((resolve) => {
    void consumer.run({
      async eachBatch(batch) {
        if (consumeStart === 0) consumeStart = performance.now();
        seen += batch.records.length;
        if (seen >= total) resolve(performance.now() - consumeStart);
      },
    });
  });
  await consumer.stop();
  await backend.close();
  return { produceMs, consumeMs };
}

const admin = kafka.admin();
await admin.connect();
console.log(`kafkajs against ${brokers.join(',')}: ${total} records of ${RECORD_BYTES} bytes, ${PARTITIONS} partitions, sends of ${SEND_SIZE}`);

const plain = `bench-plain-${run}`;
await createTopic(admin, plain);
rate('produce, kafkajs plain acks=all, 4 sends in flight', total, await produceRaw(plain, { idempotent: false, concurrency: 4 }));
const idem = `bench-idem-${run}`;
await createTopic(admin, idem);
rate('produce, kafkajs idempotent acks=all, 1 send in flight', total, await produceRaw(idem, { idempotent: true, concurrency: 1 }));
rate('consume, kafkajs eachBatch (group, from beginning)', total, await consumeRaw(plain));

const { produceMs, consumeMs } = await backendRoundTrip();
rate('produce, darkroom Kafka backend (idempotent, serialized)', total, produceMs);
rate('consume, darkroom Kafka backend (batches of <= 1000)', total, consumeMs);

const large = [`bench-large-one-${run}`, `bench-large-chunked-${run}`, `bench-large-backend-${run}`];
for (const topic of large.slice(0, 2)) await createTopic(admin, topic);
for (const [label, result] of [
  [`produce calls of ${LARGE_CALL}, kafkajs idempotent, one send each`, await produceLargeCalls(large[0], LARGE_CALL)],
  [`produce calls of ${LARGE_CALL}, kafkajs idempotent, sends of 2,000`, await produceLargeCalls(large[1], 2_000)],
  [`produce calls of ${LARGE_CALL}, darkroom Kafka backend`, await backendLargeCalls(large[2])],
] as const) {
  rate(label, total, result.ms);
  console.log(`${''.padEnd(58)} CPU of this process ${Math.round(result.cpuMs)} ms`);
}

await admin.deleteTopics({ topics: [plain, idem, `bench-backend-${run}`, ...large] }).catch(() => undefined);
await admin.disconnect();
