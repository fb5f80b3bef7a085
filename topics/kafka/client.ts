// One place that builds kafkajs clients: brokers, TLS/SASL, retry policy and a quiet logger.
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';

export interface KafkaClientOptions {
  brokers: string[];
  clientId?: string;
  /** `true` for TLS with the system CAs, or Node TLS options (ca, cert, key ...). */
  ssl?: boolean | ConnectionOptions;
  sasl?: SASLOptions;
  /**
   * Where kafkajs' own log goes: errors only, one line each. Default: stderr. kafkajs logs at info
   * level on every group join, which would drown the platform's own output.
   */
  log?: (line: string) => void;
}

export function createKafkaClient(options: KafkaClientOptions): Kafka {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const config: KafkaConfig = {
    clientId: options.clientId ?? 'darkroom',
    brokers: options.brokers,
    ssl: options.ssl,
    sasl: options.sasl,
    // A refused connection should fail in seconds, not after kafkajs' default half-minute of retries.
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 5 },
    logLevel: logLevel.ERROR,
    logCreator: () => ({ namespace, log: entry }: LogEntry) => {
      const { message, error } = entry as { message: string; error?: string };
      // Every error response is logged by the connection and also thrown to the caller, who knows
      // whether it matters ("topic already exists" is the normal case of an idempotent create).
      if (namespace === 'Connection' && message.startsWith('Response ')) return;
      // Refused connections are retried, and the caller gets one clear error if they never succeed.
      if (namespace === 'Connection' && message.startsWith('Connection error')) return;
      if (namespace === 'BrokerPool' && message.startsWith('Failed to connect to seed broker')) return;
      log(`kafkajs ${namespace}: ${message}${error && !message.includes(error) ? `: ${error}` : ''}`);
    },
  };
  return new Kafka(config);
}
