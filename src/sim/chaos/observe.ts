// What chaos mode reads of the service under test: /stats through any api process that answers (history while the
// run goes on, quiescence after it), and the item's rows from the database for the checker.
import { Pool } from 'pg';
import type { ItemStats } from '../../metrics/reconciliation';
import { INVENTORY_GROUP } from '../../order-events';
import type { OrderRow, RunFacts, StatsSample } from './checker';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const POLL_MS = 200;

export class ServiceUnreachableError extends Error {}

export class ServiceClient {
  constructor(
    readonly urls: string[],
    private readonly adminToken: string,
    private readonly observerToken: string,
  ) {}

  /** The first api process that answers; each is tried in turn until `deadline`. */
  private async request(path: string, init: RequestInit, token: string, deadline: number): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const url = this.urls[attempt % this.urls.length];
      try {
        const res = await fetch(`${url}${path}`, {
          ...init,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(3000),
        });
        if (res.ok) return await res.json();
      } catch {
        // down or paused: the next one, or this one again later
      }
      if (Date.now() > deadline) throw new ServiceUnreachableError(`no api process answered ${path}`);
      await sleep(POLL_MS);
    }
  }

  async createSale(body: Record<string, unknown>, deadline: number): Promise<string> {
    const sale = (await this.request(
      '/admin/sales',
      { method: 'POST', body: JSON.stringify(body) },
      this.adminToken,
      deadline,
    )) as { itemId: string };
    return sale.itemId;
  }

  async itemStats(itemId: string, deadline: number): Promise<ItemStats | undefined> {
    const { items } = (await this.request('/stats', {}, this.observerToken, deadline)) as {
      items: ItemStats[];
    };
    return items.find((item) => item.itemId === itemId);
  }
}

/** Samples the item's /stats every POLL_MS until stopped; samples that fail (a fault in progress) are skipped. */
export function sampleHistory(client: ServiceClient, itemId: string, startedAt: number) {
  const samples: StatsSample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const stats = await client.itemStats(itemId, 0).catch(() => undefined);
      if (stats)
        samples.push({
          tMs: Date.now() - startedAt,
          initialStock: stats.initialStock,
          redisRemaining: stats.redisRemaining,
          activeOrders: stats.activeOrders,
          cancelledOrders: stats.cancelledOrders,
        });
      await sleep(POLL_MS);
    }
  })();
  return async (): Promise<StatsSample[]> => {
    stopped = true;
    await loop;
    return samples;
  };
}

export interface QuiescenceOptions {
  /** A quiet but unbalanced item is given this long to balance (stale reservations are swept after a grace). */
  settleMs: number;
  deadline: number;
}

/**
 * Quiescence: no order waiting for payment, no give-back owed, the outbox empty, the consumer caught up, and two
 * snapshots in a row the same. Returns as soon as that holds with the books balanced; an unbalanced quiet item
 * gets settleMs more to heal (the sweeper's backstops), then is returned as it is.
 */
export async function waitForQuiescence(
  client: ServiceClient,
  db: Pool,
  itemId: string,
  options: QuiescenceOptions,
): Promise<ItemStats> {
  let previous = '';
  let quietSince: number | undefined;
  for (;;) {
    const stats = await client.itemStats(itemId, options.deadline);
    if (!stats) throw new ServiceUnreachableError(`item ${itemId} is missing from /stats`);
    const owed = await owedGiveBacks(db, itemId).catch(() => 1);
    const quiet =
      stats.activeOrders === stats.paidOrders &&
      owed === 0 &&
      stats.outboxPending === 0 &&
      stats.consumerLag === 0;
    const snapshot = JSON.stringify(stats);
    const stable = quiet && snapshot === previous;
    quietSince = stable ? (quietSince ?? Date.now()) : undefined;
    const balanced = stats.oversell === 0 && stats.undersell === 0 && stats.dbDrift === 0;
    if (stable && (balanced || Date.now() - quietSince! > options.settleMs)) return stats;
    if (Date.now() > options.deadline) return stats;
    previous = snapshot;
    await sleep(POLL_MS);
  }
}

async function owedGiveBacks(db: Pool, itemId: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM orders WHERE item_id = $1 AND status = 'CANCELLED' AND stock_returned_at IS NULL`,
    [itemId],
  );
  return Number(rows[0].n);
}

/** The item's orders and outbox, straight from the database (the checker's ground truth). */
export async function readItemRows(
  db: Pool,
  itemId: string,
): Promise<{ orders: OrderRow[]; outbox: RunFacts['outbox'] }> {
  const orders = await db.query<{ id: string; user_id: string; status: OrderRow['status'] }>(
    `SELECT id::text AS id, user_id, status FROM orders WHERE item_id = $1`,
    [itemId],
  );
  const outbox = await db.query<{ rows: string; unsent: string; applied: string }>(
    `SELECT count(*) AS rows, count(*) FILTER (WHERE o.status <> 'SENT') AS unsent, count(p.message_id) AS applied
     FROM outbox_messages o
     LEFT JOIN processed_messages p ON p.consumer_group = $2 AND p.message_id = o.id::text
     WHERE o.item_id = $1`,
    [itemId, INVENTORY_GROUP],
  );
  const counts = outbox.rows[0];
  return {
    orders: orders.rows.map((row) => ({ id: row.id, userId: row.user_id, status: row.status })),
    outbox: { rows: Number(counts.rows), unsent: Number(counts.unsent), applied: Number(counts.applied) },
  };
}
