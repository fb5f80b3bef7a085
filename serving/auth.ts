import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { HttpError } from './errors.ts';

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/**
 * A constant-time check of a presented token. Both sides are hashed first, so timingSafeEqual always
 * compares 32 bytes: the time taken does not depend on how long the presented token is nor on how
 * many of its leading characters are right.
 */
export function tokenMatcher(token: string): (presented: string) => boolean {
  const expected = sha256(token);
  return (presented) => {
    const digest = sha256(presented);
    return timingSafeEqual(digest, expected) && presented.length > 0;
  };
}

/** The token of an `Authorization: Bearer <token>` header ('' for none); the scheme is case-insensitive (RFC 9110). */
export function bearerToken(header: string | undefined): string {
  return header !== undefined && /^bearer /i.test(header) ? header.slice(7) : '';
}

export function bearerOf(req: Request): string {
  return bearerToken(req.headers.authorization);
}

const unauthorized = (message: string) =>
  new HttpError(401, 'unauthorized', message, {}, { 'WWW-Authenticate': 'Bearer' });

/** Bearer-token check for /v1 (DARKROOM_API_TOKEN); everything passes when no token is configured. */
export function requireToken(token: string | undefined): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  const matches = tokenMatcher(token);
  return (req, _res, next) => {
    if (matches(bearerOf(req))) return next();
    next(unauthorized('missing or wrong bearer token'));
  };
}

/**
 * The admin token (DARKROOM_ADMIN_TOKEN) guards /v1/admin: SQL over HTTP, replay, verify. It is a
 * separate secret from the API token so that a product backend that may write events cannot read
 * every table nor rebuild views. Without it configured the admin routes are off, not open.
 */
export function requireAdminToken(token: string | undefined): RequestHandler {
  if (!token) {
    return (_req, _res, next) => next(new HttpError(403, 'admin_disabled', 'admin routes are off: set DARKROOM_ADMIN_TOKEN to enable them'));
  }
  const matches = tokenMatcher(token);
  return (req, _res, next) => {
    if (matches(bearerOf(req))) return next();
    next(unauthorized('missing or wrong admin bearer token'));
  };
}
