// What every inventory strategy offers the purchase path. The simulator compares them on the same crowd.
import type { StrategyName } from '../config';

export interface SaleStock {
  itemId: string;
  stock: number;
  segments: number;
}

export type TakeResult = { kind: 'taken'; segment: number } | { kind: 'sold_out' } | { kind: 'busy' };

export interface StockStrategy {
  readonly name: StrategyName;
  /** True when this item was recently seen sold out: answer without touching the stock. */
  isSoldOut(itemId: string): Promise<boolean>;
  /** Takes one unit and records `reservation` (see reservation.ts) until confirmed or given back. */
  take(sale: SaleStock, reservation: string): Promise<TakeResult>;
  /** The order is committed: the reservation is no longer needed. */
  confirm(itemId: string, segment: number, reservation: string): Promise<void>;
  /** Returns the unit taken for `reservation`; idempotent per reservation. */
  giveBack(itemId: string, segment: number, reservation: string): Promise<void>;
  /** R in the reconciliation: units still for sale. */
  remaining(sale: SaleStock): Promise<number>;
}
