import type { ConsumerOptions } from './types.ts';

/** Records per batch when ConsumerOptions.maxBatchRecords is not given, on both backends. */
export const DEFAULT_MAX_BATCH = 1000;

/**
 * The checks both backends make of a consumer's options, with the backend's own error class so the
 * message reads the same everywhere. Returns the batch size to use.
 */
export function checkConsumerOptions(options: ConsumerOptions, fail: new (message: string) => Error): number {
  if (typeof options.groupId !== 'string' || options.groupId === '') throw new fail('consumer needs a groupId');
  if (!Array.isArray(options.topics) || options.topics.length === 0) {
    throw new fail(`consumer of group "${options.groupId}" needs at least one topic`);
  }
  const maxBatch = options.maxBatchRecords ?? DEFAULT_MAX_BATCH;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) {
    throw new fail(`maxBatchRecords must be an integer >= 1, got ${options.maxBatchRecords}`);
  }
  return maxBatch;
}
