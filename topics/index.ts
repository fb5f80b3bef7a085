// Picks the topic backend: Apache Kafka when brokers are configured, the embedded log otherwise.
// The Kafka client is imported only when used, so the embedded default loads nothing it does not need.
import type { TopicBackend } from './types.ts';
import { createEmbeddedBackend } from './embedded/index.ts';

export interface TopicBackendOptions {
  /** Kafka bootstrap brokers (KAFKA_BROKERS); the embedded log when empty or absent. */
  kafkaBrokers?: string[];
  /** Data directory; the embedded log lives under <dataDir>/log/. */
  dataDir: string;
  /** Embedded log: how often retention sweeps every topic (ms). */
  retentionCheckMs?: number;
  /** Kafka TLS (KAFKA_SSL=1). */
  kafkaSsl?: boolean;
  /** Kafka SASL credentials (KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD). */
  kafkaSasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /** Where background errors go (consumer retries, broker trouble), one line each. */
  log?: (line: string) => void;
  /** Kafka: how long a produce may take before it fails (DARKROOM_PRODUCE_TIMEOUT_MS). */
  produceTimeoutMs?: number;
}

export async function createTopicBackend(options: TopicBackendOptions): Promise<TopicBackend> {
  if (options.kafkaBrokers && options.kafkaBrokers.length > 0) {
    const { createKafkaBackend } = await import('./kafka/index.ts');
    return createKafkaBackend({ brokers: options.kafkaBrokers, log: options.log, ssl: options.kafkaSsl, sasl: options.kafkaSasl, produceTimeoutMs: options.produceTimeoutMs });
  }
  return createEmbeddedBackend({ dataDir: options.dataDir, retentionCheckMs: options.retentionCheckMs, onError: options.log });
}
