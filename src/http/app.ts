// The express app: guards, routes, and the one error mapper. Route handlers only validate and delegate.
import express, { type Express, type RequestHandler, type Response } from 'express';
import type { StrategyName } from '../config';
import type { Logger } from '../infra/logger';
import {
  answerFromMemory,
  placeOrder,
  type PlaceOrderDeps,
  type PlaceOrderResult,
} from '../orders/place-order';
import type { OrderStore } from '../orders/order-store';
import type { ItemStats } from '../metrics/reconciliation';
import { errorHandler, routeNotFound } from './errors';
import { buyerIdentity, buyerOf, observerGuard, requireBearer, requireJson, type BuyerAuth } from './guards';
import {
  itemParams,
  newSaleBody,
  orderParams,
  parseInput,
  payBody,
  payBodyWithToken,
  seckillBody,
  seckillBodyWithToken,
} from './validation';
import { AppError, itemNotFound, orderNotFound } from '../errors';
import type { Sale } from '../orders/sales';
import type { Payments } from '../orders/payment';
import type { ItemCache } from '../inventory/item-cache';
import type { Metrics } from '../metrics/registry';
import type { Protection } from './protection';

export interface AppDeps {
  log: Logger;
  adminToken: string;
  buyerAuth: BuyerAuth;
  /** Set: /stats and /metrics need it as a bearer token. */
  observerToken?: string;
  maxBodyBytes: number;
  defaults: { segments: number; strategy: StrategyName; paymentTimeoutMs: number };
  purchase: PlaceOrderDeps;
  orders: OrderStore;
  payments: Payments;
  itemCache: ItemCache;
  metrics: Metrics;
  protection: Protection;
  stats(): Promise<ItemStats[]>;
  /** Named dependency checks for /readyz; each rejects when its dependency is unreachable. */
  readiness: Record<string, () => Promise<unknown>>;
}

const SECKILL_STATUS: Record<PlaceOrderResult['status'] | 'rate_limited', number> = {
  ordered: 201,
  duplicate: 409,
  not_started: 409,
  ended: 409,
  sold_out: 410,
  rate_limited: 429,
  busy: 503,
};

type SeckillOutcome = keyof typeof SECKILL_STATUS;

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Answers are never cached by clients; hashing every body for an ETag is work no buyer uses.
  app.disable('etag');
  app.set('query parser', 'simple');
  app.use(requireJson, express.json({ limit: deps.maxBodyBytes, strict: true }));

  const buyer = buyerIdentity(deps.buyerAuth);
  /**
   * The userId a use case acts for. Token mode: the token's subject; a userId in the body must name the same user
   * (403 forbidden: the caller is known, and asks to act for someone else).
   */
  const actingUser = (res: Response, bodyUserId: string | undefined): string => {
    const subject = buyerOf(res);
    if (subject === undefined) return bodyUserId!; // open mode: the schema required it
    if (bodyUserId !== undefined && bodyUserId !== subject) {
      throw new AppError('forbidden', 'userId in the body must be the token subject or absent');
    }
    return subject;
  };
  const tokenMode = deps.buyerAuth.mode === 'token';

  const countOutcome = (outcome: SeckillOutcome) => deps.metrics.requests.inc({ outcome });
  const answer = (res: Response, result: PlaceOrderResult | { status: 'rate_limited' }) =>
    res
      .status(SECKILL_STATUS[result.status])
      .json(result.status === 'ordered' ? { status: 'ordered', orderId: result.orderId } : result);
  // One handler, no per-route middleware in open mode: at a drop's peak nearly every request is a sold-out answer,
  // and each express layer costs it a measurable share of bare express.
  const seckillRoute: RequestHandler = async (req, res) => {
    const stopTimer = deps.metrics.requestLatency.startTimer();
    const admitted = deps.protection.enter();
    try {
      const body = parseInput(tokenMode ? seckillBodyWithToken : seckillBody, req.body);
      const input = { itemId: body.itemId, userId: actingUser(res, body.userId) };
      // Closed and sold-out sales are answered from memory before anything that costs a round trip.
      const result: PlaceOrderResult | { status: 'rate_limited' } = !admitted
        ? { status: 'busy' }
        : (answerFromMemory(deps.purchase, input) ??
          ((await deps.protection.allow(input.userId, req.ip ?? ''))
            ? await placeOrder(deps.purchase, input)
            : { status: 'rate_limited' }));
      answer(res, result);
      countOutcome(result.status);
      stopTimer({ outcome: result.status });
    } finally {
      admitted?.done();
    }
  };
  if (tokenMode) app.post('/seckill', buyer, seckillRoute);
  else app.post('/seckill', seckillRoute);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', readinessHandler(deps.readiness));

  app.post('/admin/sales', requireBearer(deps.adminToken), async (req, res) => {
    const input = parseInput(newSaleBody, req.body);
    const sale = await deps.purchase.sales.create({
      name: input.name,
      stock: input.stock,
      segments: input.segments ?? deps.defaults.segments,
      strategy: input.strategy ?? deps.defaults.strategy,
      startsAt: input.startsAt ? new Date(input.startsAt) : undefined,
      endsAt: input.endsAt ? new Date(input.endsAt) : undefined,
      paymentTimeoutMs: input.paymentTimeoutMs ?? deps.defaults.paymentTimeoutMs,
    });
    res.status(201).json(saleJson(sale));
  });

  app.get('/items/:itemId', async (req, res) => {
    const { itemId } = parseInput(itemParams, req.params);
    const item = await deps.itemCache.get(itemId);
    if (!item) throw itemNotFound(itemId);
    res.json(item);
  });

  // Token mode: someone else's order is answered exactly like a missing one, so order ids cannot be probed.
  app.get('/orders/:orderId', buyer, async (req, res) => {
    const { orderId } = parseInput(orderParams, req.params);
    const order = await deps.orders.find(orderId);
    const subject = buyerOf(res);
    if (!order || (subject !== undefined && order.userId !== subject)) throw orderNotFound(orderId);
    res.json(orderJson(order));
  });

  app.post('/orders/:orderId/pay', buyer, async (req, res) => {
    const { orderId } = parseInput(orderParams, req.params);
    // Token mode: the token says who pays, so the body may be absent.
    const body = tokenMode ? parseInput(payBodyWithToken, req.body ?? {}) : parseInput(payBody, req.body);
    const userId = actingUser(res, body.userId);
    try {
      res.json(orderJson(await deps.payments.pay(orderId, userId)));
    } catch (err) {
      // pay() changed nothing for a non-owner; token mode hides that the order exists.
      if (tokenMode && err instanceof AppError && err.code === 'forbidden') throw orderNotFound(orderId);
      throw err;
    }
  });

  const observer = observerGuard(deps.observerToken);
  app.get('/stats', observer, async (_req, res) => {
    res.json({ items: await deps.stats() });
  });

  app.get('/metrics', observer, async (_req, res) => {
    await deps.stats(); // refreshes the per-item gauges (stock, lag, oversell, undersell, drift) and outbox pending
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.use(routeNotFound);
  app.use(errorHandler(deps.log));
  return app;
}

function readinessHandler(checks: AppDeps['readiness']): RequestHandler {
  return async (_req, res) => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await check();
          return [name, 'ok'] as const;
        } catch (err) {
          return [name, `down: ${(err as Error).message}`] as const;
        }
      }),
    );
    const ready = results.every(([, state]) => state === 'ok');
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(results) });
  };
}

export function saleJson(sale: Sale) {
  return {
    itemId: sale.itemId,
    name: sale.name,
    stock: sale.stock,
    segments: sale.segments,
    strategy: sale.strategy,
    startsAt: sale.startsAt,
    endsAt: sale.endsAt,
    paymentTimeoutMs: sale.paymentTimeoutMs,
  };
}

export function orderJson(order: {
  id: bigint;
  userId: string;
  itemId: bigint;
  segment: number;
  status: string;
  createdAt: Date;
  paidAt: Date | null;
  cancelledAt: Date | null;
}) {
  return {
    orderId: order.id.toString(),
    userId: order.userId,
    itemId: order.itemId.toString(),
    segment: order.segment,
    status: order.status,
    createdAt: order.createdAt,
    paidAt: order.paidAt,
    cancelledAt: order.cancelledAt,
  };
}
