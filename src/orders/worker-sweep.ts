// The worker's backstops, run every SWEEP_INTERVAL_MS, each idempotent: whatever a crash or a lost message left
// undone is done here. Stale reservations are settled, overdue orders expired and owed units returned first; the
// repair of each sale's Redis state from the ledger runs last, so it compares them once those units are back, and a
// sale's waiting room then counts its orders from the same ledger.
import type { Db } from '../infra/prisma';
import type { Stock } from '../stock';
import type { WaitingRoom } from '../waiting-room/waiting-room';
import type { DatabaseLedger } from './ledger';
import type { Payments } from './payment';
import { sweepStaleReservations } from './reservation-sweeper';
import type { Sales } from './sales';

export interface WorkerSweepDeps {
  db: Db;
  sales: Sales;
  stock: Stock;
  payments: Payments;
  ledger: DatabaseLedger;
  room: WaitingRoom;
  /** A reservation older than this has missed its purchase's answer. */
  reservationGraceMs: number;
  /** How late past its deadline an unpaid order may be before this sweep expires it. */
  overdueAfterMs: number;
}

export function workerSweep(deps: WorkerSweepDeps): () => Promise<void> {
  return async () => {
    await sweepStaleReservations({ ...deps, graceMs: deps.reservationGraceMs });
    await deps.payments.expireOverdue(deps.overdueAfterMs);
    await deps.payments.returnOwedUnits();
    for (const sale of await deps.sales.all()) {
      await deps.stock.get(sale.strategy).repair(sale);
      if (sale.admission.mode === 'off') continue;
      const segments = await deps.ledger.segments(sale.itemId);
      await deps.room.reconcile(
        sale,
        segments.reduce((sum, segment) => sum + segment.active, 0),
      );
    }
  };
}
