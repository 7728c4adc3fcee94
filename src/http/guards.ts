// Request guards: content type, admin bearer token.
import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from '../errors';

/** Every body this service reads is JSON; anything else is refused before parsing. */
export const requireJson: RequestHandler = (req, _res, next) => {
  if (req.method === 'POST' && !req.is('application/json')) {
    next(new AppError('unsupported_media_type', 'Content-Type must be application/json'));
    return;
  }
  next();
};

export function requireBearer(token: string): RequestHandler {
  const expected = Buffer.from(token);
  return (req, _res, next) => {
    const given = Buffer.from(/^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1] ?? '');
    // Constant-time comparison, so the token cannot be guessed byte by byte from response times.
    const ok = given.length === expected.length && timingSafeEqual(given, expected);
    next(
      ok ? undefined : new AppError('unauthorized', 'admin routes need Authorization: Bearer <ADMIN_TOKEN>'),
    );
  };
}
