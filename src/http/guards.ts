// Request guards: content type, bearer tokens (admin, observer), and the buyer's identity.
import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { errors as joseErrors, jwtVerify } from 'jose';
import type { Config } from '../config';
import { AppError } from '../errors';
import { tokenSubject } from './validation';

/** Every body this service reads is JSON; anything else is refused before parsing. */
export const requireJson: RequestHandler = (req, _res, next) => {
  // The exact header nearly every client sends is taken as is; type-is parses the others (charset, case).
  const type = req.headers['content-type'];
  if (req.method === 'POST' && type !== 'application/json' && !req.is('application/json')) {
    next(new AppError('unsupported_media_type', 'Content-Type must be application/json'));
    return;
  }
  next();
};

const bearerOf = (header: string | undefined) => /^Bearer (.+)$/.exec(header ?? '')?.[1];

export function requireBearer(
  token: string,
  message = 'admin routes need Authorization: Bearer <ADMIN_TOKEN>',
): RequestHandler {
  const expected = Buffer.from(token);
  return (req, _res, next) => {
    const given = Buffer.from(bearerOf(req.get('authorization')) ?? '');
    // Constant-time comparison, so the token cannot be guessed byte by byte from response times.
    const ok = given.length === expected.length && timingSafeEqual(given, expected);
    next(ok ? undefined : new AppError('unauthorized', message));
  };
}

/** OBSERVER_TOKEN unset: the observer routes stay open (what load tests and the simulator expect). */
export function observerGuard(token: string | undefined): RequestHandler {
  return token
    ? requireBearer(token, '/stats and /metrics need Authorization: Bearer <OBSERVER_TOKEN>')
    : (_req, _res, next) => next();
}

export type BuyerAuth = Config['buyerAuth'];

/**
 * BUYER_AUTH=token: the buyer is the `sub` of an HS256 JWT with an `exp`, verified with BUYER_TOKEN_SECRET. Open
 * mode: no buyer (undefined), the route takes the body's userId.
 */
export function buyerVerifier(
  auth: BuyerAuth,
): (authorization: string | undefined) => Promise<string | undefined> {
  if (auth.mode === 'open') return async () => undefined;
  const key = new TextEncoder().encode(auth.secret);
  return async (authorization) => {
    const token = bearerOf(authorization);
    if (!token) throw new AppError('unauthorized', 'this route needs Authorization: Bearer <buyer token>');
    let sub: unknown;
    try {
      // Pinning the algorithm refuses "alg: none" and any other algorithm a forger might pick.
      ({
        payload: { sub },
      } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) {
        throw new AppError('unauthorized', `buyer token refused: ${err.code}`);
      }
      throw err;
    }
    const parsed = tokenSubject.safeParse(sub);
    if (!parsed.success) throw new AppError('unauthorized', 'buyer token refused: sub is not a valid userId');
    return parsed.data;
  };
}

/** The buyer (buyerVerifier) left in res.locals for the route (buyerOf); open mode passes everything. */
export function buyerIdentity(auth: BuyerAuth): RequestHandler {
  if (auth.mode === 'open') return (_req, _res, next) => next();
  const verify = buyerVerifier(auth);
  // Express 5 forwards a rejected promise to the error handler; success has to call next itself.
  return async (req, res, next) => {
    res.locals.buyer = await verify(req.get('authorization'));
    next();
  };
}

/**
 * The userId a use case acts for. Token mode: the token's subject; a userId in the body must name the same user
 * (403 forbidden: the caller is known, and asks to act for someone else). Open mode: the body's, which its schema
 * required.
 */
export function actingUser(subject: string | undefined, bodyUserId: string | undefined): string {
  if (subject === undefined) return bodyUserId!;
  if (bodyUserId !== undefined && bodyUserId !== subject) {
    throw new AppError('forbidden', 'userId in the body must be the token subject or absent');
  }
  return subject;
}

/** The token's buyer in token mode, undefined in open mode. */
export const buyerOf = (res: Response): string | undefined => res.locals.buyer as string | undefined;
