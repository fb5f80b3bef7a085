import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import express, { Router } from 'express';
import type { DarkroomEvent } from '../schemas/events.ts';
import type { EventProducer } from '../topics/event-producer.ts';
import { HttpError } from './errors.ts';
import { DEFAULT_MAX_FUTURE_SKEW_MS, futureEventError, ingestRateLimit, type RateLimiter } from './hardening.ts';

export type Validate = (
  input: unknown,
  context: { now: number; newId: () => string },
) => { ok: true; events: DarkroomEvent[] } | { ok: false; index: number; message: string };

export interface IngestOptions {
  producer: EventProducer;
  validate: Validate;
  maxBodyBytes: number;
  now?: () => number;
  onAccepted?: (events: DarkroomEvent[]) => void;
  /** Events further ahead of the server clock are refused (hardening.ts); default 5 minutes. */
  maxFutureSkewMs?: number;
  /** Per-token limit in events/s (hardening.ts); none when omitted. */
  rateLimit?: { limiter: RateLimiter; eventsPerSecond: number };
}

/**
 * Bytes that are not UTF-8 would be decoded to U+FFFD and stored as such: "ab\xff" would silently
 * become another user id. Refused instead, before parsing.
 */
function rejectInvalidUtf8(_req: unknown, _res: unknown, body: Buffer): void {
  if (!isUtf8(body)) throw new HttpError(400, 'invalid_utf8', 'request body is not valid UTF-8');
}

/**
 * POST /v1/events: one event or an array of at most 10,000. All or nothing: the request is validated
 * whole before anything is written, and 202 is sent only once every event is durable on its topic.
 * Event time: `ts` may be as old as the client likes (late events land where their time says), but
 * not more than `maxFutureSkewMs` ahead of the server clock (see hardening.ts).
 */
export function ingestRouter(options: IngestOptions): Router {
  const now = options.now ?? Date.now;
  const maxFutureSkewMs = options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  const router = Router();
  router.post(
    '/v1/events',
    express.json({ limit: options.maxBodyBytes, strict: false, type: () => true, verify: rejectInvalidUtf8 }),
    options.rateLimit ? ingestRateLimit(options.rateLimit.limiter, options.rateLimit.eventsPerSecond) : (_req, _res, next) => next(),
    async (req, res, next) => {
      try {
        const at = now();
        // body-parser leaves an empty body as {}, which would read as "event.type is required".
        if (req.headers['content-length'] === '0' || (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined)) {
          throw new HttpError(400, 'invalid_event', 'the request body is empty: send one event object or an array of events', { index: 0 });
        }
        const result = options.validate(req.body, { now: at, newId: randomUUID });
        if (!result.ok) {
          throw new HttpError(400, 'invalid_event', result.message, { index: result.index });
        }
        const future = futureEventError(result.events, at, maxFutureSkewMs, Array.isArray(req.body));
        if (future) throw new HttpError(400, 'invalid_event', future.message, { index: future.index });
        try {
          await options.producer.send(result.events);
        } catch (error) {
          // Never 202 for an event that may not be durable: the client retries.
          throw new HttpError(503, 'unavailable', `events could not be made durable: ${(error as Error).message}`,
            {}, { 'Retry-After': '1' });
        }
        options.onAccepted?.(result.events);
        res.status(202).json({ accepted: result.events.length });
      } catch (error) {
        next(error);
      }
    },
  );
  return router;
}
