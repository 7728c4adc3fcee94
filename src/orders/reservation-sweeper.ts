// Gives back units whose buyer's process died between taking the unit and committing the order. A reservation older
// than the grace period either has its order (the confirm was lost: just clear it) or never will (give the unit back).
import type { Db } from '../infra/prisma';
import type { Buyers } from '../stock/buyers';
import { segmentKeys } from '../stock/keys';
import { parseReservation } from '../stock/reservation';
import type { Strategies } from '../stock/strategies';
import type { Redis } from 'ioredis';
import type { Sales } from './sales';

export interface SweepDeps {
  db: Db;
  redis: Redis;
  sales: Sales;
  strategies: Strategies;
  buyers: Buyers;
  graceMs: number;
}

export async function sweepStaleReservations(
  deps: SweepDeps,
): Promise<{ returned: number; cleared: number }> {
  const cutoff = Date.now() - deps.graceMs;
  let returned = 0;
  let cleared = 0;
  for (const sale of await deps.sales.all()) {
    if (sale.strategy === 'db') continue; // the db strategy keeps no reservations
    const stock = deps.strategies.get(sale.strategy);
    for (let segment = 0; segment < sale.segments; segment++) {
      const stale = await deps.redis.zrangebyscore(segmentKeys(sale.itemId, segment).held, '-inf', cutoff);
      for (const reservation of stale) {
        const { orderId, userId } = parseReservation(reservation);
        const order = await deps.db.order.findUnique({
          where: { id: BigInt(orderId) },
          select: { id: true },
        });
        if (order) {
          await stock.confirm(sale.itemId, segment, reservation);
          cleared++;
        } else {
          await stock.giveBack(sale.itemId, segment, reservation);
          await deps.buyers.release(sale.itemId, userId);
          returned++;
        }
      }
    }
  }
  return { returned, cleared };
}
