// The HTTP entry: POST /seckill on node:http (seckill-route.ts), every other route on express with its guards and
// the one error mapper. Route handlers only validate and delegate.
import type { RequestListener } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import type { StrategyName } from '../config';
import type { Logger } from '../infra/logger';
import type { PlaceOrderDeps } from '../orders/place-order';
import type { OrderStore } from '../orders/order-store';
import type { ItemStats } from '../metrics/reconciliation';
import { errorHandler, routeNotFound } from './errors';
import {
  actingUser,
  buyerIdentity,
  buyerOf,
  observerGuard,
  requireBearer,
  requireJson,
  type BuyerAuth,
} from './guards';
import { itemParams, newSaleBody, orderParams, parseInput, payBody, payBodyWithToken } from './validation';
import { isSeckillRequest, seckillRoute } from './seckill-route';
import { waitingRoomItem, waitingRoomRoute } from './waiting-room-route';
import { admissionSettings } from '../waiting-room/settings';
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

/** POST /seckill and the waiting room to their own routes, everything else to the express app. */
export function createHttpListener(deps: AppDeps): RequestListener {
  const seckill = seckillRoute(deps);
  const room = waitingRoomRoute({ ...deps, sales: deps.purchase.sales, room: deps.purchase.room });
  const app = createApp(deps);
  return (req, res) => {
    if (isSeckillRequest(req)) return void seckill(req, res);
    const roomItemId = waitingRoomItem(req);
    if (roomItemId !== undefined) void room(req, res, roomItemId);
    else app(req, res);
  };
}

/** The express app: every route but POST /seckill. */
function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Answers are never cached by clients; hashing every body for an ETag is work no buyer uses.
  app.disable('etag');
  app.set('query parser', 'simple');
  app.use(requireJson, express.json({ limit: deps.maxBodyBytes, strict: true }));

  const buyer = buyerIdentity(deps.buyerAuth);
  const tokenMode = deps.buyerAuth.mode === 'token';

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
      admission: admissionSettings(input.admission),
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
    const userId = actingUser(buyerOf(res), body.userId);
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
    admission: {
      mode: sale.admission.mode,
      ...(sale.admission.mode === 'off'
        ? {}
        : {
            ratePerSec: sale.admission.ratePerSec || null,
            maxUnfinished: sale.admission.maxUnfinished || null,
            passTtlMs: sale.admission.passTtlMs,
            preQueueOpensAt: sale.admission.preQueueOpensAt,
            seed: sale.admission.seed,
          }),
    },
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
