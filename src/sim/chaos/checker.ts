// The chaos checker: pure checks over what one run left behind (read from the database and /stats at quiescence)
// and over the /stats history sampled while it ran. Each check names the numbers that broke it.

export type CheckName =
  | 'orders = stock'
  | 'oversell'
  | 'undersell'
  | 'dbDrift'
  | 'one active order per user'
  | 'order ids unique'
  | 'acknowledged orders kept'
  | 'outbox all SENT'
  | 'messages applied once'
  | 'stock never negative'
  | 'R + A ≤ S';

export interface Violation {
  check: CheckName;
  numbers: Record<string, number>;
}

export interface OrderRow {
  id: string;
  userId: string;
  status: 'PENDING_PAYMENT' | 'PAID' | 'CANCELLED';
}

/** One /stats sample of the item: its numbers and the cancelled count of the same database snapshot. */
export interface StatsSample {
  tMs: number;
  initialStock: number;
  redisRemaining: number;
  activeOrders: number;
  cancelledOrders: number;
}

export interface RunFacts {
  initialStock: number;
  /** Some buyer was told sold_out after the sale had settled: more demand than stock. */
  demandExceededStock: boolean;
  /** The final /stats numbers of the item at quiescence. */
  final: { oversell: number; undersell: number; dbDrift: number; consumerLag: number };
  orders: OrderRow[];
  /** Every `ordered` answer a buyer got. */
  acknowledged: { orderId: string; userId: string }[];
  outbox: { rows: number; unsent: number; applied: number };
  history: StatsSample[];
}

export function checkRun(facts: RunFacts): Violation[] {
  return [
    ...checkSold(facts),
    ...checkReconciliation(facts.final),
    ...checkOrders(facts.orders, facts.acknowledged),
    ...checkPipeline(facts.outbox, facts.final.consumerLag),
    ...checkHistory(facts.history),
  ];
}

const active = (orders: OrderRow[]) => orders.filter((order) => order.status !== 'CANCELLED');

function checkSold({ initialStock, demandExceededStock, orders }: RunFacts): Violation[] {
  const activeOrders = active(orders).length;
  if (!demandExceededStock || activeOrders === initialStock) return [];
  return [{ check: 'orders = stock', numbers: { activeOrders, stock: initialStock } }];
}

function checkReconciliation(final: RunFacts['final']): Violation[] {
  return (['oversell', 'undersell', 'dbDrift'] as const)
    .filter((name) => final[name] !== 0)
    .map((name) => ({ check: name, numbers: { [name]: final[name] } }));
}

function checkOrders(orders: OrderRow[], acknowledged: RunFacts['acknowledged']): Violation[] {
  const violations: Violation[] = [];
  const perUser = new Map<string, number>();
  for (const order of active(orders)) perUser.set(order.userId, (perUser.get(order.userId) ?? 0) + 1);
  const multiHolders = [...perUser.values()].filter((n) => n > 1).length;
  if (multiHolders) violations.push({ check: 'one active order per user', numbers: { users: multiHolders } });

  // One id answered to two buyers, or stored twice: either way two buyers share one order.
  const owners = new Map<string, Set<string>>();
  for (const { orderId, userId } of [
    ...acknowledged,
    ...orders.map((o) => ({ orderId: o.id, userId: o.userId })),
  ])
    owners.set(orderId, (owners.get(orderId) ?? new Set()).add(userId));
  const stored = new Map<string, number>();
  for (const order of orders) stored.set(order.id, (stored.get(order.id) ?? 0) + 1);
  const shared = [...owners.values()].filter((users) => users.size > 1).length;
  const twice = [...stored.values()].filter((n) => n > 1).length;
  if (shared || twice) violations.push({ check: 'order ids unique', numbers: { shared, twice } });

  const lost = acknowledgedLost(orders, acknowledged);
  if (lost) violations.push({ check: 'acknowledged orders kept', numbers: { lost } });
  return violations;
}

/** An `ordered` answer is a promise: the buyers told so whose order is not in the database. */
export function acknowledgedLost(orders: OrderRow[], acknowledged: RunFacts['acknowledged']): number {
  const stored = new Set(orders.map((order) => order.id));
  return acknowledged.filter(({ orderId }) => !stored.has(orderId)).length;
}

function checkPipeline(outbox: RunFacts['outbox'], consumerLag: number): Violation[] {
  const violations: Violation[] = [];
  if (outbox.unsent) violations.push({ check: 'outbox all SENT', numbers: { unsent: outbox.unsent } });
  // Applied twice shows as dbDrift (the consumer moves items.stock); here: every row applied, none left behind.
  if (outbox.applied !== outbox.rows || consumerLag)
    violations.push({
      check: 'messages applied once',
      numbers: { rows: outbox.rows, applied: outbox.applied, consumerLag },
    });
  return violations;
}

/**
 * /stats reads the database snapshot first and Redis after it, so a unit given back between the two reads is in R
 * while its order still counts in A. Those give-backs follow cancellations that the next sample's snapshot sees:
 * the bound allows exactly the cancellations between a sample and the next, no more.
 */
function checkHistory(history: StatsSample[]): Violation[] {
  const violations: Violation[] = [];
  const negative = history.filter((s) => s.redisRemaining < 0);
  if (negative.length)
    violations.push({
      check: 'stock never negative',
      numbers: { samples: negative.length, lowest: Math.min(...negative.map((s) => s.redisRemaining)) },
    });
  let worst = 0;
  let samples = 0;
  history.forEach((sample, i) => {
    const next = history[i + 1];
    const inFlightGiveBacks = next ? Math.max(0, next.cancelledOrders - sample.cancelledOrders) : 0;
    const excess = sample.redisRemaining + sample.activeOrders - sample.initialStock - inFlightGiveBacks;
    if (excess > 0) {
      samples++;
      worst = Math.max(worst, excess);
    }
  });
  if (samples) violations.push({ check: 'R + A ≤ S', numbers: { samples, worstExcess: worst } });
  return violations;
}

/** "undersell=3" / "activeOrders=27 stock=30": the failing numbers of a violation, for tables. */
export function formatViolation(violation: Violation): string {
  const numbers = Object.entries(violation.numbers)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  return `${violation.check}: ${numbers}`;
}
