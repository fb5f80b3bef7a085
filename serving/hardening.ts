// HTTP hardening: what keeps one client, slow or greedy or careless, from hurting everyone else.
// - request timeouts: a client that trickles its headers or body is cut off (408) instead of holding a
//   socket forever (slowloris);
// - per-token rate limits on ingest, counted in events (a batch of 5,000 costs 5,000), 429 + Retry-After;
// - event time is checked against the server clock: an event more than DARKROOM_MAX_FUTURE_SKEW_MS in
//   the future is refused, since a post dated next year would pin itself to the top of every feed and
//   of trending. Old events are fine: they land where their time says (a late-arriving post is placed
//   in feeds by its ts, a late like counts in its minute of analytics).
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Express, RequestHandler } from 'express';
import type { DarkroomEvent } from '../schemas/events.ts';
import { bearerOf } from './auth.ts';
import { HttpError } from './errors.ts';

// --- request timeouts ---------------------------------------------------------------------------------

export interface ServerTimeouts {
  /** Whole request (headers and body) must arrive within this; 408 otherwise. */
  requestTimeoutMs: number;
  /** Headers must arrive within this. */
  headersTimeoutMs: number;
}

/**
 * An HTTP server for `app` with the timeouts set. Node checks them on a timer
 * (connectionsCheckingInterval, 30 s by default), which is only settable when the server is created:
 * hence a server made here rather than app.listen().
 */
export function createHttpServer(app: Express, timeouts: ServerTimeouts): http.Server {
  const headersTimeout = Math.min(timeouts.headersTimeoutMs, timeouts.requestTimeoutMs);
  const server = http.createServer({
    requestTimeout: timeouts.requestTimeoutMs,
    headersTimeout,
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 2))),
  }, app);
  // Node answers a request it cannot parse or that timed out with a bodiless status line; this API
  // answers every error with a JSON body saying what happened. Same statuses as Node's own handler.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex & { bytesWritten?: number }) => {
    if (socket.writable && !socket.bytesWritten) {
      const [status, reason, code, message] = error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'request_timeout', `the request did not arrive within ${headersTimeout} ms (headers) or ${timeouts.requestTimeoutMs} ms (whole request)`]
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'headers_too_large', 'the request headers are too large']
          : [400, 'Bad Request', 'bad_request', 'the request is not valid HTTP/1.1'];
      const body = JSON.stringify({ error: { code, message } });
      socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroy(error);
  });
  return server;
}

// --- rate limits ----------------------------------------------------------------------------------------

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Takes `cost` events from the bucket of `key`. */
  take(key: string, cost: number): RateDecision;
}

/**
 * A token bucket per key, refilled at `eventsPerSecond`, holding at most one second's worth. A request
 * larger than the bucket passes when the bucket is full and leaves it in debt, so a big batch is never
 * refused forever, yet the average rate stays the limit. Kept in memory: each ingest process limits
 * what it receives, which is what protects it.
 */
export function createRateLimiter(options: { eventsPerSecond: number; now?: () => number; maxKeys?: number }): RateLimiter {
  const rate = options.eventsPerSecond;
  const capacity = rate;
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 10_000;
  const buckets = new Map<string, { tokens: number; at: number }>();

  const refill = (bucket: { tokens: number; at: number }, t: number) => {
    bucket.tokens = Math.min(capacity, bucket.tokens + ((t - bucket.at) / 1000) * rate);
    bucket.at = t;
  };

  return {
    take(key, cost) {
      const t = now();
      let bucket = buckets.get(key);
      if (!bucket) {
        if (buckets.size >= maxKeys) {
          // Forget clients whose bucket has refilled: they are owed nothing and owe nothing.
          for (const [k, b] of buckets) { refill(b, t); if (b.tokens >= capacity) buckets.delete(k); }
        }
        buckets.set(key, (bucket = { tokens: capacity, at: t }));
      } else {
        refill(bucket, t);
      }
      const needed = Math.min(cost, capacity);
      if (bucket.tokens < needed) {
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((needed - bucket.tokens) / rate)) };
      }
      bucket.tokens -= cost;
      return { ok: true };
    },
  };
}

/** Events a request carries, as the rate limit counts them: its array length, or 1. */
export function eventCount(body: unknown): number {
  return Array.isArray(body) ? Math.max(1, body.length) : 1;
}

/**
 * Ingest rate limit per API token (per client address when no token is configured). Runs after the
 * body is parsed, before validation: invalid requests cost too, or they would be a free flood.
 */
export function ingestRateLimit(limiter: RateLimiter, eventsPerSecond: number): RequestHandler {
  return (req, _res, next) => {
    const bearer = bearerOf(req);
    const key = bearer ? `token:${createHash('sha256').update(bearer).digest('hex')}` : `ip:${req.ip ?? req.socket.remoteAddress}`;
    const decision = limiter.take(key, eventCount(req.body));
    if (decision.ok) return next();
    next(new HttpError(429, 'rate_limited',
      `ingest is limited to ${eventsPerSecond} events/s per token; retry in ${decision.retryAfterSeconds}s`,
      { retry_after_seconds: decision.retryAfterSeconds }, { 'Retry-After': String(decision.retryAfterSeconds) }));
  };
}

// --- event time -----------------------------------------------------------------------------------------

export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000;

function describeMs(ms: number): string {
  if (ms >= 3_600_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  if (ms >= 60_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * The first event whose ts is more than `maxFutureSkewMs` ahead of `now`, as a 400 message, or
 * undefined. `batch` says how the request named its events (events[i] or event).
 */
export function futureEventError(events: readonly DarkroomEvent[], now: number, maxFutureSkewMs: number, batch: boolean):
  { index: number; message: string } | undefined {
  for (let i = 0; i < events.length; i++) {
    const ahead = events[i].ts - now;
    if (ahead > maxFutureSkewMs) {
      return {
        index: i,
        message: `${batch ? `events[${i}]` : 'event'}.ts: is ${describeMs(ahead)} ahead of the server clock; at most ${describeMs(maxFutureSkewMs)} is allowed`,
      };
    }
  }
  return undefined;
}
