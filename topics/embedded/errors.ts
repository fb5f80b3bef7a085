// Mistakes a caller can make with the embedded log, each with a one-line message that says what to do.

export class EmbeddedLogError extends Error {
  override name = 'EmbeddedLogError';
}

export class UnknownTopicError extends EmbeddedLogError {
  constructor(topic: string, known: string[]) {
    super(`unknown topic "${topic}" (known: ${known.length ? known.join(', ') : 'none'}); create it with ensureTopics first`);
  }
}
