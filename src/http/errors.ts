// The one place where errors become HTTP answers: {error: {code, message}} with the status of the code.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, type ErrorCode } from '../errors';
import type { Logger } from '../infra/logger';
import { isDatabaseUnavailable } from '../infra/postgres';

const STATUS_OF: Record<ErrorCode, number> = {
  invalid_json: 400,
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  item_not_found: 404,
  order_not_found: 404,
  route_not_found: 404,
  order_cancelled: 409,
  no_waiting_room: 404,
  room_not_open: 409,
  ticket_invalid: 403,
  pass_required: 403,
  pass_invalid: 403,
  pass_not_yours: 403,
  pass_expired: 403,
  pass_used: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unavailable: 503,
};

/** body-parser's error types, translated to ours. */
const BODY_PARSER_ERRORS: Record<string, ErrorCode> = {
  'entity.parse.failed': 'invalid_json',
  'entity.too.large': 'payload_too_large',
  'encoding.unsupported': 'unsupported_media_type',
  'charset.unsupported': 'unsupported_media_type',
};

/**
 * Other client errors of express and body-parser (a body that fails to decompress, a malformed percent escape in a
 * path) carry only an HTTP status; they are the client's fault, so they keep a 4xx rather than become a 500.
 */
function clientErrorCode(status: unknown): ErrorCode | undefined {
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (status === 413) return 'payload_too_large';
  if (status === 415) return 'unsupported_media_type';
  return 'invalid_input';
}

export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  const { type, status } = (err ?? {}) as { type?: unknown; status?: unknown };
  const code =
    (typeof type === 'string' ? BODY_PARSER_ERRORS[type] : undefined) ??
    clientErrorCode(status) ??
    (isDatabaseUnavailable(err) ? 'unavailable' : undefined);
  return code ? new AppError(code, (err as Error).message) : undefined;
}

export const routeNotFound: RequestHandler = (req, _res, next) => {
  next(new AppError('route_not_found', `no route ${req.method} ${req.path}`));
};

/** The answer to an error: its code's status and {error: {code, message}}; anything unknown is logged, a 500. */
export function errorAnswer(
  err: unknown,
  log: Logger,
  where: { method?: string; path?: string },
): { status: number; body: { error: { code: string; message: string } } } {
  const known = toAppError(err);
  if (known)
    return { status: STATUS_OF[known.code], body: { error: { code: known.code, message: known.message } } };
  log.error({ err, ...where }, 'unhandled error');
  return { status: 500, body: { error: { code: 'internal', message: 'internal error' } } };
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const { status, body } = errorAnswer(err, log, { method: req.method, path: req.path });
    res.status(status).json(body);
  };
}
