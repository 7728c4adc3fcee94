// Settles units whose purchase never heard the database's answer: the process died between taking the unit and the
// commit, or the commit's outcome could not be read back in time. A reservation older than the grace period either
// has its order (only the clean-up was lost) or never will (the unit goes back and the buyer may try again).
import type { Db } from '../infra/prisma';
import type { Stock } from '../stock';
import { parseReservation } from './reservation';
import type { Sales } from './sales';

export interface SweepDeps {
  db: Db;
  sales: Sales;
  stock: Stock;
  graceMs: number;
}

export async function sweepStaleReservations(
  deps: SweepDeps,
): Promise<{ returned: number; cleared: number }> {
  const cutoff = Date.now() - deps.graceMs;
  let returned = 0;
  let cleared = 0;
  for (const sale of await deps.sales.all()) {
    const stock = deps.stock.get(sale.strategy);
    for (const { segment, reservation } of await stock.staleReservations(sale, cutoff)) {
      const { orderId, userId } = parseReservation(reservation);
      const order = await orderExists(deps.db, orderId);
      await stock.settle(sale, segment, { userId, reservation }, order ? 'ordered' : 'failed');
      if (order) cleared++;
      else returned++;
    }
  }
  return { returned, cleared };
}

/**
 * An absent order gives its unit back, so the answer must come from a primary: FOR SHARE is refused on a standby and
 * on a node still finishing its promotion (which may not have replayed every acknowledged order yet); the sweep then
 * fails and runs again.
 */
async function orderExists(db: Db, orderId: string): Promise<boolean> {
  const rows = await db.$queryRaw<unknown[]>`SELECT 1 FROM orders WHERE id = ${BigInt(orderId)} FOR SHARE`;
  return rows.length > 0;
}
