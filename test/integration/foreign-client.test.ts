// Proof of real Confluent framing: records darkroom wrote to Kafka decode with a foreign Confluent
// client (confluent-kafka for Python, on librdkafka) that fetches the writer schemas by id from the
// registry URL it is given — here darkroom's file registry served over the Confluent REST API.
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';
import { routeOf } from '../../schemas/events.ts';
import { registryApiRouter } from '../../serving/registry-api.ts';
import { describeWith, SERVICES } from '../services.ts';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.ts';
import { tempDataDir } from '../helpers/tmp.ts';

const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../fixtures/confluent_decode.py');

describeWith(['kafka'], 'foreign Confluent client', () => {
  const data = tempDataDir();
  let platform: TestPlatform;
  let server: import('node:http').Server;
  let registryUrl: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ mode: 'kafka-redis', dataDir: data.dir, startProcessors: false });
    const app = express().use(registryApiRouter(platform.registry));
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    registryUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/registry`;
  });
  afterAll(async () => { server?.close(); await platform?.close(); data.remove(); });

  it('decodes every event type written by darkroom with confluent-kafka AvroDeserializer', async () => {
    const events = Object.values(EXAMPLE_EVENTS);
    await platform.producer.send(events);
    const byTopic = new Map<string, typeof events>();
    for (const e of events) byTopic.set(routeOf(e).topic, [...(byTopic.get(routeOf(e).topic) ?? []), e]);

    for (const [topic, sent] of byTopic) {
      const { stdout } = await run('python3', [SCRIPT, SERVICES.kafka, `${platform.namespace}.${topic}`, registryUrl, String(sent.length)], { timeout: 90_000 });
      const decoded = stdout.trim().split('\n').map((line) => JSON.parse(line));
      expect(decoded).toHaveLength(sent.length);
      for (const record of decoded) {
        expect(record.magic).toBe(0);
        const original = sent.find((e) => e.event_id === record.value.event_id);
        expect(original, `event ${record.value.event_id} on ${topic}`).toBeDefined();
        const { type: _type, ...fields } = original!;
        expect(record.value).toEqual(fields);
        expect(record.schema_id).toBe(platform.serde.schemaIdOf(original!.type));
        expect(record.key).toBe(routeOf(original!).key);
      }
    }
  });
});
