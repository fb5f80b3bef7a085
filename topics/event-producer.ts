import type { DarkroomEvent } from '../schemas/events.ts';
import type { TopicBackend, ProduceRecord } from './types.ts';

/** What the producer needs from the serde: Confluent-framed Avro for one event, with its topic and key. */
export interface EventEncoder {
  encode(event: DarkroomEvent): Promise<{ topic: string; key: string; value: Buffer }>;
}

/**
 * The one path by which events reach the topics: HTTP ingest, the simulator and library users all
 * call `send`. It resolves only when every event is durable on its topic.
 */
export interface EventProducer {
  send(events: DarkroomEvent[]): Promise<void>;
}

export function createEventProducer(backend: TopicBackend, encoder: EventEncoder): EventProducer {
  return {
    async send(events) {
      const byTopic = new Map<string, ProduceRecord[]>();
      for (const event of events) {
        const { topic, key, value } = await encoder.encode(event);
        let records = byTopic.get(topic);
        if (!records) byTopic.set(topic, (records = []));
        records.push({ key, value, timestamp: event.ts });
      }
      await Promise.all([...byTopic].map(([topic, records]) => backend.produce(topic, records)));
    },
  };
}
