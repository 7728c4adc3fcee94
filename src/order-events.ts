// The pipeline contract: what the order side writes to the outbox, the relay publishes, the inventory consumer applies
// and the reconciliation counts. Producer, consumer and /stats import these names from here and nowhere else.

/** Kafka topic of every order event; the key is the order id so one order's events stay in one partition. */
export const ORDERS_TOPIC = 'seckill.orders';

/** Consumer group of the inventory consumer; also the dedupe table's `consumer_group` for its messages. */
export const INVENTORY_GROUP = 'inventory';

/** Message headers: the outbox row id (what consumers deduplicate on) and the event type. */
export const HEADERS = { messageId: 'message-id', messageType: 'message-type' } as const;

export type OrderEventType = 'order.created' | 'order.cancelled';

/** The JSON value of every order event. */
export interface OrderEvent {
  type: OrderEventType;
  orderId: string;
  itemId: string;
  userId: string;
  segment: number;
  at: string;
}

/** What each event does to the item's stock in PostgreSQL (D in the reconciliation). */
export const STOCK_DELTA: Record<OrderEventType, number> = { 'order.created': -1, 'order.cancelled': +1 };

export function isOrderEventType(type: string): type is OrderEventType {
  return Object.hasOwn(STOCK_DELTA, type);
}
