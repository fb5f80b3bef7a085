// The fast lane: the two hottest reads (a user's feed, the trending top) answered straight from the
// HTTP server's request event, before express. Express's per-request setup (prototype swaps, router
// walk, response helpers) costs ~50-90 µs of CPU, measured: about as much as serving a cached
// trending top, and a fifth of a feed page (bench/serving-feed.ts, in the bench's section of
// bench/RESULTS.md). The lane keeps what the app's middleware gives these routes: the API token
// check, the request-duration metric with the same labels, the same JSON. It takes only a canonical
// GET it can answer with a 200; everything else (another method or path, a missing token, a
// parameter error) goes through express unchanged, which answers as it always did.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { Histogram } from 'prom-client';
import { bearerToken, tokenMatcher } from '../auth.ts';
import { HttpError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { Query } from './params.ts';

/** A read the lane can answer: its route (as the metric labels it) and how to make the body. */
export interface FastRead {
  route: string;
  body: () => Promise<string | Buffer>;
}

/**
 * Matches a request path (without its query) and query against the reads a router serves; undefined
 * when the request is not one of them. May throw an HttpError for bad parameters: the lane then
 * hands the request to express, which answers the 400.
 */
export type FastRoutes = (path: string, query: Query) => FastRead | undefined;

export interface FastLaneOptions {
  routes: FastRoutes[];
  apiToken?: string;
  metrics: Metrics;
  log: (line: string) => void;
}

/** A request listener step: true when the lane answered (or is answering) the request. */
export type FastLane = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The histogram the app's httpTimer middleware fills (serving/metrics.ts). */
const HTTP_DURATION = 'darkroom_http_request_duration_seconds';

export function createFastLane(options: FastLaneOptions): FastLane {
  const authorized = options.apiToken ? tokenMatcher(options.apiToken) : undefined;
  const duration = options.metrics.registry.getSingleMetric(HTTP_DURATION) as Histogram<'method' | 'route' | 'status'> | undefined;
  return (req, res) => {
    if (req.method !== 'GET' || !req.url) return false;
    const url = req.url;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    // Encoded or unusual paths are rare: express decodes and matches them as it always did.
    if (path.includes('%')) return false;
    let read: FastRead | undefined;
    try {
      const query = q < 0 ? {} : parseQuery(url.slice(q + 1));
      for (const routes of options.routes) if ((read = routes(path, query))) break;
    } catch {
      return false; // a bad parameter: express answers the 400 as it always did
    }
    if (!read) return false;
    if (authorized) {
      if (!authorized(bearerToken(req.headers.authorization))) return false; // express answers the 401
    }

    const end = duration?.startTimer({ method: 'GET' });
    const route = read.route;
    if (end) res.once('finish', () => end({ route, status: String(res.statusCode) }));
    read.body().then((body) => sendJson(res, 200, body), (error: unknown) => {
      // Answered as the app's error handler would (serving/errors.ts): the error's own status and
      // shape, or, for a view store failure, a logged 500 without internals.
      if (error instanceof HttpError) {
        for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
        return sendJson(res, error.status, JSON.stringify({ error: { code: error.code, message: error.message, ...error.extra } }));
      }
      options.log(`internal error: ${(error as Error)?.message ?? String(error)}`);
      sendJson(res, 500, JSON.stringify({ error: { code: 'internal', message: 'internal error' } }));
    });
    return true;
  };
}

/** What express's res.json does, minus the content-type parsing and freshness checks. */
export function sendJson(res: ServerResponse, status: number, body: string | Buffer): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', typeof body === 'string' ? Buffer.byteLength(body) : body.length);
  res.end(body);
}
