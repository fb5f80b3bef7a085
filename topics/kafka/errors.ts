// Errors a user of the Kafka backend can cause or meet, each with a one-line message that says what
// is wrong and where. kafkajs errors are translated here, in one place.

export class KafkaBackendError extends Error {
  override name = 'KafkaBackendError';
}

/** No broker answered: wrong KAFKA_BROKERS, Kafka not started, or a firewall. */
export class KafkaUnreachableError extends KafkaBackendError {
  override name = 'KafkaUnreachableError';
  constructor(brokers: string[], detail: string) {
    super(`cannot reach Kafka at ${brokers.join(',')} (${detail})`);
  }
}

export class UnknownKafkaTopicError extends KafkaBackendError {
  override name = 'UnknownKafkaTopicError';
  constructor(topic: string) {
    super(`unknown Kafka topic "${topic}"; create it with ensureTopics first (auto-creation is off)`);
  }
}

const CONNECTION_ERROR_NAMES = new Set([
  'KafkaJSConnectionError', 'KafkaJSBrokerNotFound', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError',
]);

/** Walks kafkajs' cause chain (retries wrap the error that made them give up). */
function causes(error: unknown): Error[] {
  const chain: Error[] = [];
  let current = error as (Error & { cause?: unknown; originalError?: unknown }) | undefined;
  while (current instanceof Error && chain.length < 10) {
    chain.push(current);
    current = (current.cause ?? current.originalError) as typeof current;
  }
  return chain;
}

/** Turns a kafkajs error into a backend error with a clear message; other errors pass unchanged. */
export function translateKafkaError(error: unknown, brokers: string[], doing: string): Error {
  if (error instanceof KafkaBackendError) return error;
  const chain = causes(error);
  const connection = chain.find((e) => CONNECTION_ERROR_NAMES.has(e.name) || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT/.test(e.message));
  if (connection) {
    const code = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT/.exec(connection.message)?.[0];
    return new KafkaUnreachableError(brokers, code === 'ECONNREFUSED' ? 'connection refused' : code ?? connection.message);
  }
  const root = chain.at(-1);
  if (!root) return new KafkaBackendError(`Kafka ${doing} failed: ${String(error)}`);
  const translated = new KafkaBackendError(`Kafka ${doing} failed: ${root.message}`);
  translated.cause = error;
  return translated;
}
