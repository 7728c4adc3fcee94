// The purchase, start to finish: sale window → sold-out shortcut → one per user → take a unit → order + outbox in one
// transaction → 201. Every exit after a unit is taken either commits the order or gives the unit back.
import { AppError } from '../errors';
import { isUniqueViolation } from '../infra/prisma';
import type { Logger } from '../infra/logger';
import type { Buyers } from '../stock/buyers';
import { reservationOf } from '../stock/reservation';
import type { Strategies } from '../stock/strategies';
import type { IdGenerator } from './ids';
import type { OrderStore } from './order-store';
import { saleWindow, type Sales } from './sales';

export type PlaceOrderResult =
  | { status: 'ordered'; orderId: string; segment: number }
  | { status: 'duplicate' | 'sold_out' | 'not_started' | 'ended' | 'busy' };

export interface PlaceOrderDeps {
  sales: Sales;
  strategies: Strategies;
  buyers: Buyers;
  orders: OrderStore;
  ids: IdGenerator;
  log: Logger;
  /** Called once an order is committed (payment timeout scheduling, metrics). Failures are logged, not fatal. */
  onOrdered?: (order: {
    orderId: string;
    itemId: string;
    userId: string;
    paymentTimeoutMs: number;
  }) => Promise<void>;
}

export async function placeOrder(
  deps: PlaceOrderDeps,
  request: { userId: string; itemId: string },
): Promise<PlaceOrderResult> {
  const { userId, itemId } = request;
  const sale = await deps.sales.get(itemId);
  const window = saleWindow(sale);
  if (window !== 'open') return { status: window };

  const stock = deps.strategies.get(sale.strategy);
  if (await stock.isSoldOut(itemId)) return { status: 'sold_out' };
  if (!(await deps.buyers.claim(itemId, userId))) return { status: 'duplicate' };

  const orderId = deps.ids.next();
  const reservation = reservationOf(orderId, userId);
  const taken = await takeOrRelease(deps, () => stock.take(sale, reservation), itemId, userId);
  if (taken.kind !== 'taken') {
    await deps.buyers.release(itemId, userId);
    return { status: taken.kind };
  }

  try {
    await deps.orders.createWithOutbox({ orderId, itemId, userId, segment: taken.segment });
  } catch (err) {
    await stock.giveBack(itemId, taken.segment, reservation);
    if (isUniqueViolation(err)) return { status: 'duplicate' }; // Redis forgot the buyer; the database did not.
    await deps.buyers.release(itemId, userId);
    deps.log.warn({ err, itemId, userId }, 'order transaction failed; unit given back');
    return { status: 'busy' };
  }
  await stock.confirm(itemId, taken.segment, reservation).catch((err) => {
    deps.log.warn({ err, orderId }, 'reservation not cleared; the sweeper will clear it');
  });
  await deps
    .onOrdered?.({ orderId, itemId, userId, paymentTimeoutMs: sale.paymentTimeoutMs })
    .catch((err) => {
      deps.log.error({ err, orderId }, 'post-order hook failed; the expiry sweep will catch the order');
    });
  return { status: 'ordered', orderId, segment: taken.segment };
}

/** A failure while taking stock (Redis down) must not leave the buyer claimed. */
async function takeOrRelease<T>(
  deps: PlaceOrderDeps,
  take: () => Promise<T>,
  itemId: string,
  userId: string,
): Promise<T> {
  try {
    return await take();
  } catch (err) {
    await deps.buyers.release(itemId, userId).catch(() => undefined);
    throw new AppError('unavailable', `stock store unavailable: ${(err as Error).message}`);
  }
}
