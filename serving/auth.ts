import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './errors.ts';

/**
 * Bearer-token check for /v1. Both sides are hashed first so the comparison takes the same time
 * whatever the length or content of the presented token.
 */
export function requireToken(token: string | undefined): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  const expected = createHash('sha256').update(token).digest();
  return (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
    const digest = createHash('sha256').update(presented).digest();
    if (presented && timingSafeEqual(digest, expected)) return next();
    next(new HttpError(401, 'unauthorized', 'missing or wrong bearer token', {}, { 'WWW-Authenticate': 'Bearer' }));
  };
}
