// The one place where errors become HTTP answers: {error: {code, message}} with the status of the code.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, type ErrorCode } from '../errors';
import type { Logger } from '../infra/logger';

const STATUS_OF: Record<ErrorCode, number> = {
  invalid_json: 400,
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  item_not_found: 404,
  order_not_found: 404,
  route_not_found: 404,
  order_cancelled: 409,
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

export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  const type = (err as { type?: unknown } | null)?.type;
  const code = typeof type === 'string' ? BODY_PARSER_ERRORS[type] : undefined;
  return code ? new AppError(code, (err as Error).message) : undefined;
}

export const routeNotFound: RequestHandler = (req, _res, next) => {
  next(new AppError('route_not_found', `no route ${req.method} ${req.path}`));
};

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known = toAppError(err);
    if (known) {
      res.status(STATUS_OF[known.code]).json({ error: { code: known.code, message: known.message } });
      return;
    }
    log.error({ err, method: req.method, path: req.path }, 'unhandled error');
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  };
}
