// Paying and expiring orders. Both are conditional updates of a PENDING_PAYMENT order, so when they race exactly one
// wins. An expired order is cancelled with an "order.cancelled" outbox row in the same transaction, then its unit
// goes back on sale (idempotently, so a retried expiry job cannot return it twice).
import type { Queue } from 'bullmq';
import { AppError, orderNotFound } from '../errors';
import type { Db } from '../infra/prisma';
import type { Logger } from '../infra/logger';
import { reservationOf } from '../stock/reservation';
import type { Strategies } from '../stock/strategies';
import type { OrderStore } from './order-store';
import type { Sales } from './sales';

export type ExpiryOutcome = 'cancelled' | 'not_pending' | 'missing';

export class Payments {
  constructor(
    private readonly db: Db,
    private readonly orders: OrderStore,
    private readonly sales: Sales,
    private readonly strategies: Strategies,
    private readonly timeouts: Queue,
    private readonly log: Logger,
  ) {}

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

  async scheduleTimeout(orderId: string, delayMs: number): Promise<void> {
    await this.timeouts.add(
      'expire',
      { orderId },
      { delay: delayMs, jobId: `expire-${orderId}`, removeOnComplete: true, removeOnFail: 1000, attempts: 5 },
    );
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
    // Runs again on every retry of a half-done expiry; the give-back is idempotent per reservation.
    const sale = await this.sales.get(order.itemId.toString());
    await this.strategies
      .get(sale.strategy)
      .giveBack(sale.itemId, order.segment, reservationOf(orderId, order.userId));
    return 'cancelled';
  }

  /** Backstop for a lost timeout job: expires every order whose payment window closed more than `slackMs` ago. */
  async expireOverdue(slackMs: number): Promise<number> {
    const overdue = await this.db.$queryRaw<{ id: bigint }[]>`
      SELECT o.id FROM orders o JOIN items i ON i.id = o.item_id
      WHERE o.status = 'PENDING_PAYMENT'
        AND o.created_at + (i.payment_timeout_ms + ${slackMs}) * interval '1 millisecond' < now()
      ORDER BY o.id LIMIT 1000`;
    for (const { id } of overdue) {
      await this.expire(id.toString()).catch((err) =>
        this.log.warn({ err, orderId: id }, 'overdue expiry failed'),
      );
    }
    return overdue.length;
  }
}
