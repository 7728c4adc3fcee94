// Paying and expiring orders. Both are conditional updates of a PENDING_PAYMENT order, so when they race exactly one
// wins. An expired order is cancelled, its unit given back to the ledger and an "order.cancelled" outbox row written,
// all in one transaction; then its unit goes back on sale in Redis. That last step is owed until it is recorded as
// done (orders.stock_returned_at), and the worker retries every owed one, so a failed give-back is never forgotten.
import type { Queue } from 'bullmq';
import { AppError, orderNotFound } from '../errors';
import type { Db } from '../infra/prisma';
import { CoalescedDelayedJobs } from '../infra/queues';
import type { Logger } from '../infra/logger';
import type { Stock } from '../stock';
import type { WaitingRoom } from '../waiting-room/waiting-room';
import { DatabaseLedger } from './ledger';
import type { OrderStore } from './order-store';
import type { OrderToWrite } from './order-writer';
import type { Sales } from './sales';

export type ExpiryOutcome = 'cancelled' | 'not_pending' | 'missing';

/** Payment windows closing within the same second share one timeout job. */
const TIMEOUT_BUCKET_MS = 1000;
/** Orders expired per query of expireOverdue. */
const OVERDUE_PAGE = 1000;

export class Payments {
  private readonly timeouts: CoalescedDelayedJobs<object>;

  constructor(
    private readonly db: Db,
    private readonly orders: OrderStore,
    private readonly sales: Sales,
    private readonly stock: Stock,
    private readonly room: WaitingRoom,
    timeoutQueue: Queue,
    private readonly log: Logger,
  ) {
    this.timeouts = new CoalescedDelayedJobs(timeoutQueue, 'expire-due', TIMEOUT_BUCKET_MS);
  }

  /** Idempotent: paying a paid order answers it again. */
  async pay(orderId: string, userId: string) {
    const id = BigInt(orderId);
    await this.db.order.updateMany({
      where: { id, userId, status: 'PENDING_PAYMENT' },
      data: { status: 'PAID', paidAt: new Date() },
    });
    const order = await this.db.order.findUnique({ where: { id } });
    if (!order) throw orderNotFound(orderId);
    if (order.userId !== userId) throw new AppError('forbidden', 'this order belongs to another user');
    if (order.status === 'CANCELLED')
      throw new AppError('order_cancelled', 'the payment window of this order closed');
    return order;
  }

  /**
   * Payment timeouts as one delayed job per second of due times (CoalescedDelayedJobs), not one per order. The job
   * expires whatever is due when it runs (expireDue), so one job serves every order of its second, whichever process
   * sold it. A lost job is caught by the worker's overdue sweep.
   */
  async scheduleTimeouts(orders: Pick<OrderToWrite, 'paymentTimeoutMs'>[]): Promise<void> {
    await this.timeouts.add(
      orders.map((order) => ({ key: 'all', delayMs: order.paymentTimeoutMs, data: {} })),
    );
  }

  /** The payment-timeout job: every order whose payment window has closed is expired (until a page fails). */
  async expireDue(): Promise<void> {
    while ((await this.expireOverdue(0)) === OVERDUE_PAGE);
  }

  async expire(orderId: string): Promise<ExpiryOutcome> {
    const id = BigInt(orderId);
    await this.db.$transaction(async (tx) => {
      const { count } = await tx.order.updateMany({
        where: { id, status: 'PENDING_PAYMENT' },
        data: { status: 'CANCELLED', cancelledAt: new Date() },
      });
      if (count === 0) return;
      const order = await tx.order.findUniqueOrThrow({ where: { id } });
      await DatabaseLedger.giveBack(tx, order.itemId, order.segment);
      await this.orders.outboxInsert(tx, {
        type: 'order.cancelled',
        orderId,
        itemId: order.itemId.toString(),
        userId: order.userId,
        segment: order.segment,
        at: new Date().toISOString(),
      });
    });
    const order = await this.db.order.findUnique({ where: { id } });
    if (!order) return 'missing';
    if (order.status !== 'CANCELLED') return 'not_pending';
    if (!order.stockReturnedAt) await this.returnUnit(order);
    return 'cancelled';
  }

  /**
   * Expires every order whose payment window closed more than `slackMs` ago, a page at a time. Returns how many
   * were expired (or found paid meanwhile); a failed one is left to the next sweep.
   */
  async expireOverdue(slackMs: number): Promise<number> {
    const overdue = await this.db.$queryRaw<{ id: bigint }[]>`
      SELECT o.id FROM orders o JOIN items i ON i.id = o.item_id
      WHERE o.status = 'PENDING_PAYMENT'
        AND o.created_at + (i.payment_timeout_ms + ${slackMs}) * interval '1 millisecond' < now()
      ORDER BY o.id LIMIT ${OVERDUE_PAGE}`;
    let done = 0;
    for (const { id } of overdue) {
      await this.expire(id.toString()).then(
        () => done++,
        (err) => this.log.warn({ err, orderId: id }, 'overdue expiry failed'),
      );
    }
    return done;
  }

  /** Retries every give-back still owed (cancelled, unit not yet back in Redis). Returns how many are done now. */
  async returnOwedUnits(): Promise<number> {
    const owed = await this.db.order.findMany({
      where: { status: 'CANCELLED', stockReturnedAt: null },
      select: { id: true, itemId: true, segment: true },
      orderBy: { id: 'asc' },
      take: 1000,
    });
    let done = 0;
    for (const order of owed) {
      if (
        await this.returnUnit(order).catch((err) =>
          this.log.warn({ err, orderId: order.id }, 'give-back failed'),
        )
      )
        done++;
    }
    return done;
  }

  private async returnUnit(order: { id: bigint; itemId: bigint; segment: number }): Promise<boolean> {
    const sale = await this.sales.get(order.itemId.toString());
    const back = await this.stock.get(sale.strategy).returnUnit(sale, order.segment, order.id.toString());
    if (back) {
      await this.db.order.updateMany({
        where: { id: order.id, stockReturnedAt: null },
        data: { stockReturnedAt: new Date() },
      });
      await this.room.unitReturned(sale);
    }
    return back;
  }
}
