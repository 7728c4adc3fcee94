// What the routes served by node:http itself (seckill-route.ts, waiting-room-route.ts) do for themselves that
// express's layers did for the others: the content type, a size-limited body (raw-body, body-parser's own reader),
// strict JSON, the answer, and errors through the one mapper (errors.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { finished } from 'node:stream/promises';
import { parse as parseContentType } from 'content-type';
import getRawBody from 'raw-body';
import { AppError } from '../errors';
import type { Logger } from '../infra/logger';
import { errorAnswer } from './errors';

/** Never throws: the error's answer, unless one has left already. */
export async function answerError(
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
  log: Logger,
): Promise<void> {
  const { status, body } = errorAnswer(err, log, { method: req.method, path: req.url?.split('?')[0] });
  if (res.headersSent) return; // failed after its answer left: nothing more to say (an unknown error is logged)
  // A refused body may still be on its way: read it off first, so the client hears the answer rather than a
  // reset connection (what body-parser does too).
  if (!req.readableEnded) await finished(req.resume()).catch(() => undefined);
  sendJson(res, status, body);
}

/** The body as JSON, as express.json({ strict: true }) read it: objects and arrays only, empty as {}. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  requireJsonContent(req.headers);
  const text = (await getRawBody(req, { length: req.headers['content-length'], limit })).toString('utf8');
  const first = /\S/.exec(text)?.[0];
  if (first === undefined) return {};
  if (first !== '{' && first !== '[') throw new AppError('invalid_json', 'the body must be a JSON object');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AppError('invalid_json', (err as Error).message);
  }
}

function requireJsonContent(headers: IncomingMessage['headers']): void {
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    throw new AppError('unsupported_media_type', `Content-Encoding ${encoding} is not accepted`);
  }
  // The exact header nearly every client sends is taken as is.
  const type = headers['content-type'];
  if (type === 'application/json') return;
  let parsed: ReturnType<typeof parseContentType> | undefined;
  try {
    parsed = type ? parseContentType(type) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed?.type !== 'application/json') {
    throw new AppError('unsupported_media_type', 'Content-Type must be application/json');
  }
  const charset = parsed.parameters.charset?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new AppError('unsupported_media_type', `charset ${charset} is not supported`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
