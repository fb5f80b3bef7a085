// Parameters of the read API, checked before any view is read. Every error a client can cause is a
// 400 with one line that names the parameter and what it accepts.
// Plain values in, so that express routes and the fast lane (fast-lane.ts) check them alike.
import { HttpError } from '../errors.ts';

/** A parsed query string (express's default parser and node:querystring give the same shape). */
export type Query = Record<string, unknown>;

/** Same bound as the ids ingest accepts (schemas/validate.ts). */
const MAX_ID_LENGTH = 64;

export function badParameter(name: string, message: string): HttpError {
  return new HttpError(400, 'invalid_parameter', `${name} ${message}`, { parameter: name });
}

/** A path id (user, post): non-empty, at most 64 characters. */
export function pathId(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw badParameter(name, `must be 1 to ${MAX_ID_LENGTH} characters`);
  }
  return value;
}

/** A single query parameter as text, undefined when absent. */
export function queryText(query: Query, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badParameter(name, 'must be given once');
  return value;
}

/** `limit`: an integer in [1, max], `fallback` when absent. */
export function limitParam(query: Query, fallback: number, max: number): number {
  const text = queryText(query, 'limit');
  if (text === undefined) return fallback;
  const limit = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= max)) throw badParameter('limit', `must be an integer from 1 to ${max}, got "${text.slice(0, 32)}"`);
  return limit;
}
