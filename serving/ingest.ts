import { randomUUID } from 'node:crypto';
import express, { Router } from 'express';
import type { DarkroomEvent } from '../schemas/events.ts';
import type { EventProducer } from '../topics/event-producer.ts';
import { HttpError } from './errors.ts';

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
}

/**
 * POST /v1/events: one event or an array of at most 10,000. All or nothing: the request is validated
 * whole before anything is written, and 202 is sent only once every event is durable on its topic.
 */
export function ingestRouter(options: IngestOptions): Router {
  const now = options.now ?? Date.now;
  const router = Router();
  router.post(
    '/v1/events',
    express.json({ limit: options.maxBodyBytes, strict: false, type: () => true }),
    async (req, res, next) => {
      try {
        const result = options.validate(req.body, { now: now(), newId: randomUUID });
        if (!result.ok) {
          throw new HttpError(400, 'invalid_event', result.message, { index: result.index });
        }
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
