// Reads of orders, and the outbox row of an event written inside the caller's transaction (the cancel). The purchase
// path writes its orders and their rows in batches (order-writer.ts).
import type { Db, DbTx } from '../infra/prisma';
import { ORDERS_TOPIC, type OrderEvent } from '../order-events';
import type { IdGenerator } from './ids';

export class OrderStore {
  constructor(
    private readonly db: Db,
    private readonly ids: IdGenerator,
  ) {}

  /** Queues an event in the outbox inside the caller's transaction. */
  outboxInsert(tx: DbTx, event: OrderEvent) {
    return tx.outboxMessage.create({
      data: {
        id: BigInt(this.ids.next()),
        topic: ORDERS_TOPIC,
        key: event.orderId,
        type: event.type,
        itemId: BigInt(event.itemId),
        payload: { ...event },
      },
    });
  }

  async find(orderId: string) {
    return this.db.order.findUnique({ where: { id: BigInt(orderId) } });
  }
}
