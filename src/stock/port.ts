// What the stock module offers the purchase path (StockStrategy, one per strategy name) and what it needs from the
// database's ledger (StockLedger, implemented by orders/). Keys, scripts and the walk over segments stay inside.
import type { StrategyName } from '../config';

export interface SaleStock {
  itemId: string;
  stock: number;
  segments: number;
}

/** One buyer's attempt. The reservation is opaque here (orders/ owns its format); it names the attempt in Redis. */
export interface Purchase {
  userId: string;
  reservation: string;
}

export type TakeResult =
  { kind: 'taken'; segment: number } | { kind: 'duplicate' } | { kind: 'sold_out' } | { kind: 'busy' };

/**
 * What the database did with the order of a taken unit:
 * ordered (committed) · duplicate (the user already had an order: the unit goes back) · refused (the ledger of the
 * segment was full: the unit never existed) · failed (rolled back for sure: the unit goes back, the buyer may retry).
 */
export type Settlement = 'ordered' | 'duplicate' | 'refused' | 'failed';

export interface StockStrategy {
  readonly name: StrategyName;
  /** false only for the naive control group: the database then inserts its orders without checking the ledger. */
  readonly checkedByDatabase: boolean;
  /** How many segments a sale asking for `requested` gets (global-lock and db use one). */
  segmentsFor(requested: number): number;
  /** Puts a new sale's units where this strategy sells from. */
  load(sale: SaleStock): Promise<void>;
  /** From this process's memory only (no I/O): the item was seen sold out moments ago. */
  soldOut(itemId: string): boolean;
  /** The same memory, only read (no recheck handed to the caller): for observers on a timer. */
  seenSoldOut(itemId: string): boolean;
  /** Claims the buyer and takes one unit under the purchase's reservation. */
  take(sale: SaleStock, purchase: Purchase): Promise<TakeResult>;
  settle(sale: SaleStock, segment: number, purchase: Purchase, settlement: Settlement): Promise<void>;
  /** A cancelled order's unit goes back on sale; idempotent. false = not done yet (retry later). */
  returnUnit(sale: SaleStock, segment: number, orderId: string): Promise<boolean>;
  /** Reservations taken before `before` (ms epoch) and not settled since: their process may have died. */
  staleReservations(sale: SaleStock, before: number): Promise<{ segment: number; reservation: string }[]>;
  /** R in the reconciliation: units still for sale. */
  remaining(sale: SaleStock): Promise<number>;
  /** Rebuilds lost segments and corrects quiet ones from the ledger. */
  repair(sale: SaleStock): Promise<RepairReport>;
}

export interface RepairReport {
  rebuilt: number;
  corrected: number;
}

export interface LedgerSegment {
  segment: number;
  capacity: number;
  /** Active (pending or paid) orders of the segment. */
  active: number;
  /** Cancelled orders of the segment whose unit has not been handed back to Redis yet. */
  owed: string[];
}

/** The database's record of a sale's stock, as the stock module needs it to rebuild or correct Redis. */
export interface StockLedger {
  /** One consistent read of every segment of the item. */
  segments(itemId: string): Promise<LedgerSegment[]>;
  /** Every buyer of the item with the reservation of their order. */
  buyers(itemId: string): Promise<Purchase[]>;
}
