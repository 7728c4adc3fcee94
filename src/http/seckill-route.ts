// POST /seckill, served by node:http itself in front of the express app (every other route is express's). At a
// drop's peak nearly every request is this one, and express's request pipeline (its req/res objects, router and
// body-parser) costs 0.19 ms of CPU per request on a 2-core machine where node:http alone answers the same JSON in
// 0.03 ms: most of a sold-out answer's cost and a fifth of an order's. This route does for itself only what those
// layers did for it: the content type, a size-limited body (raw-body, body-parser's own reader), strict JSON, and
// the answer; errors still go through the one mapper (errors.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../metrics/registry';
import {
  answerFromMemory,
  placeOrder,
  type PlaceOrderDeps,
  type PlaceOrderResult,
} from '../orders/place-order';
import { answerError, readJsonBody, sendJson } from './node-route';
import { actingUser, buyerVerifier, type BuyerAuth } from './guards';
import type { Protection } from './protection';
import { parseInput, seckillBody, seckillBodyWithToken } from './validation';

export interface SeckillRouteDeps {
  log: Logger;
  buyerAuth: BuyerAuth;
  maxBodyBytes: number;
  purchase: PlaceOrderDeps;
  metrics: Metrics;
  protection: Protection;
}

type SeckillAnswer = PlaceOrderResult | { status: 'rate_limited' };

const SECKILL_STATUS: Record<SeckillAnswer['status'], number> = {
  ordered: 201,
  duplicate: 409,
  not_started: 409,
  ended: 409,
  sold_out: 410,
  rate_limited: 429,
  busy: 503,
};

const SECKILL_PATH = /^\/seckill(\?|$)/;

/** The requests this route answers: POST /seckill, with or without a query string. */
export const isSeckillRequest = (req: IncomingMessage): boolean =>
  req.method === 'POST' && SECKILL_PATH.test(req.url ?? '');

export function seckillRoute(deps: SeckillRouteDeps) {
  const buyerOf = buyerVerifier(deps.buyerAuth);
  const schema = deps.buyerAuth.mode === 'token' ? seckillBodyWithToken : seckillBody;

  const purchase = async (req: IncomingMessage): Promise<SeckillAnswer> => {
    const subject = await buyerOf(req.headers.authorization);
    const body = parseInput(schema, await readJsonBody(req, deps.maxBodyBytes));
    const input = { itemId: body.itemId, userId: actingUser(subject, body.userId), pass: body.pass };
    // Closed and sold-out sales are answered from memory before anything that costs a round trip.
    const fromMemory = answerFromMemory(deps.purchase, input);
    if (fromMemory) return fromMemory;
    if (!(await deps.protection.allow(input.userId, req.socket.remoteAddress ?? ''))) {
      return { status: 'rate_limited' };
    }
    return placeOrder(deps.purchase, input);
  };

  // Never rejects: every error becomes an answer (a rejected listener is an unhandled rejection: the process ends).
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const stopTimer = deps.metrics.requestLatency.startTimer();
    // Shed before reading the body: past the bound, the cheapest answer is the only one.
    const admitted = deps.protection.enter();
    try {
      const result: SeckillAnswer = admitted ? await purchase(req) : { status: 'busy' };
      const { status } = result;
      const body = result.status === 'ordered' ? { status: result.status, orderId: result.orderId } : result;
      sendJson(res, SECKILL_STATUS[status], body);
      deps.metrics.requests.inc({ outcome: status });
      stopTimer({ outcome: status });
    } catch (err) {
      await answerError(req, res, err, deps.log);
    } finally {
      admitted?.done();
    }
  };
}
