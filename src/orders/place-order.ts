// The purchase, start to finish: closed or sold-out answered from memory (answerFromMemory, asked first) → sale
// window → the database reachable, else busy → the admission pass, when the sale has a waiting room (spent here;
// the answer moves the room) → claim the buyer and take a unit (the strategy) → the order, its
// ledger entry and its outbox row in one group-committed transaction (the database has the last word) → settle the
// unit by the order's fate → answer. Every exit after a unit is taken settles it.
import { AppError } from '../errors';
import type { Logger } from '../infra/logger';
import type { Purchase, Stock, StockStrategy, TakeResult } from '../stock';
import type { WaitingRoom } from '../waiting-room/waiting-room';
import type { IdGenerator } from './ids';
import type { OrderWriter, WriteOutcome } from './order-writer';
import { reservationOf } from './reservation';
import { saleWindow, type Sale, type Sales } from './sales';

export type PlaceOrderResult =
  | { status: 'ordered'; orderId: string; segment: number }
  | { status: 'duplicate' | 'sold_out' | 'not_started' | 'ended' | 'busy' };

export interface PlaceOrderDeps {
  sales: Sales;
  stock: Stock;
  writer: OrderWriter;
  ids: IdGenerator;
  room: WaitingRoom;
  log: Logger;
}

export interface PurchaseRequest {
  userId: string;
  itemId: string;
  /** The admission pass of the sale's waiting room (only a sale with a room asks for it). */
  pass?: string;
}

/**
 * The answers that need no I/O at all: a sale this process knows that is closed or was just seen sold out. Callers
 * ask this first, before rate limits or anything else that costs a round trip.
 */
export function answerFromMemory(
  deps: PlaceOrderDeps,
  request: PurchaseRequest,
): PlaceOrderResult | undefined {
  const sale = deps.sales.cached(request.itemId);
  if (!sale) return undefined;
  const window = saleWindow(sale);
  if (window !== 'open') return { status: window };
  return deps.stock.get(sale.strategy).soldOut(sale.itemId) ? { status: 'sold_out' } : undefined;
}

/** Callers ask answerFromMemory first; the sold-out memory is not asked again here (one look per request). */
export async function placeOrder(deps: PlaceOrderDeps, request: PurchaseRequest): Promise<PlaceOrderResult> {
  const sale = await deps.sales.get(request.itemId);
  const window = saleWindow(sale);
  if (window !== 'open') return { status: window };
  if (!deps.writer.accepting()) return { status: 'busy' }; // the database is unreachable: take no unit
  return deps.room.admitted(sale, request, () => sellOneUnit(deps, sale, request));
}

async function sellOneUnit(
  deps: PlaceOrderDeps,
  sale: Sale,
  request: PurchaseRequest,
): Promise<PlaceOrderResult> {
  const stock = deps.stock.get(sale.strategy);
  const orderId = deps.ids.next();
  const purchase: Purchase = { userId: request.userId, reservation: reservationOf(orderId, request.userId) };
  const taken = await takeUnit(stock, sale, purchase);
  if (taken.kind !== 'taken') return { status: taken.kind };

  const outcome = await deps.writer.write({
    orderId,
    itemId: sale.itemId,
    userId: request.userId,
    segment: taken.segment,
    paymentTimeoutMs: sale.paymentTimeoutMs,
  });
  // unknown: the database could not be asked; the reservation stays for the sweeper, which asks again later.
  if (outcome !== 'unknown') {
    await stock.settle(sale, taken.segment, purchase, outcome).catch((err) => {
      deps.log.warn({ err, orderId, outcome }, 'unit not settled; the reservation sweeper will settle it');
    });
  }
  return ANSWER[outcome](orderId, taken.segment);
}

const ANSWER: Record<WriteOutcome, (orderId: string, segment: number) => PlaceOrderResult> = {
  ordered: (orderId, segment) => ({ status: 'ordered', orderId, segment }),
  duplicate: () => ({ status: 'duplicate' }),
  refused: () => ({ status: 'sold_out' }),
  failed: () => ({ status: 'busy' }),
  unknown: () => ({ status: 'busy' }),
};

/** A stock store that cannot be reached is a 503, and the strategy has already released the buyer. */
async function takeUnit(stock: StockStrategy, sale: Sale, purchase: Purchase): Promise<TakeResult> {
  try {
    return await stock.take(sale, purchase);
  } catch (err) {
    throw new AppError('unavailable', `stock store unavailable: ${(err as Error).message}`);
  }
}
