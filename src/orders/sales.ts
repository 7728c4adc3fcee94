// Sales (items on sale): creation, and the cached read the purchase path does on every request.
import type { StrategyName } from '../config';
import { itemNotFound } from '../errors';
import type { Db, DbTx } from '../infra/prisma';
import { splitIntoSegments, type SaleStock, type Stock } from '../stock';
import type { RoomStore } from '../waiting-room/port';
import { admissionFromJson, admissionJson, NO_ROOM, type AdmissionSettings } from '../waiting-room/settings';
import { DatabaseLedger } from './ledger';

export interface Sale extends SaleStock {
  name: string;
  strategy: StrategyName;
  startsAt: Date | null;
  endsAt: Date | null;
  paymentTimeoutMs: number;
  /** The sale's waiting room; mode off: none. */
  admission: AdmissionSettings;
}

export interface NewSale {
  name: string;
  stock: number;
  segments: number;
  strategy: StrategyName;
  startsAt?: Date;
  endsAt?: Date;
  paymentTimeoutMs: number;
  admission?: AdmissionSettings;
}

export type SaleWindow = 'open' | 'not_started' | 'ended';

export function saleWindow(sale: Pick<Sale, 'startsAt' | 'endsAt'>, now = new Date()): SaleWindow {
  if (sale.startsAt && now < sale.startsAt) return 'not_started';
  if (sale.endsAt && now >= sale.endsAt) return 'ended';
  return 'open';
}

type ItemRow = Awaited<ReturnType<Db['item']['findUniqueOrThrow']>>;

function toSale(row: ItemRow): Sale {
  return {
    itemId: row.id.toString(),
    name: row.name,
    stock: row.initialStock,
    segments: row.segments,
    strategy: row.strategy as StrategyName,
    startsAt: row.startsAt,
    endsAt: row.endsAt,
    paymentTimeoutMs: row.paymentTimeoutMs,
    admission: admissionFromJson(row.admission),
  };
}

/** A sale's definition never changes after creation, so every process may keep it; unknown ids are kept briefly. */
const UNKNOWN_ITEM_TTL_MS = 1000;
/** Bounds the memory a flood of random ids can take. */
const UNKNOWN_ITEM_MAX = 10_000;

export class Sales {
  private readonly known = new Map<string, Sale>();
  private readonly unknownUntil = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly stock: Stock,
    private readonly rooms: RoomStore,
  ) {}

  /**
   * The item row, its ledger, its stock and its waiting room are written together: if loading the stock or opening
   * the room fails, the rows are rolled back, so no sale exists without its units.
   */
  async create(input: NewSale): Promise<Sale> {
    const strategy = this.stock.get(input.strategy);
    const segments = strategy.segmentsFor(input.segments);
    const row = await this.db.$transaction(async (tx) => {
      const created = await tx.item.create({
        data: {
          name: input.name,
          initialStock: input.stock,
          stock: input.stock,
          segments,
          strategy: input.strategy,
          startsAt: input.startsAt,
          endsAt: input.endsAt,
          paymentTimeoutMs: input.paymentTimeoutMs,
          admission: admissionJson(input.admission ?? NO_ROOM) ?? undefined,
        },
      });
      const capacities = splitIntoSegments(input.stock, segments);
      await DatabaseLedger.open(tx, created.id, capacities, strategy.checkedByDatabase);
      await strategy.load({ itemId: created.id.toString(), stock: input.stock, segments });
      const sale = toSale(created);
      if (sale.admission.mode !== 'off') await this.rooms.open(sale);
      return created;
    });
    const sale = toSale(row);
    this.known.set(sale.itemId, sale);
    return sale;
  }

  /** The sale if this process knows it already: no I/O (the purchase path's answers from memory). */
  cached(itemId: string): Sale | undefined {
    return this.known.get(itemId);
  }

  async get(itemId: string): Promise<Sale> {
    const cached = this.known.get(itemId);
    if (cached) return cached;
    if ((this.unknownUntil.get(itemId) ?? 0) > Date.now()) throw itemNotFound(itemId);
    const row = await this.db.item.findUnique({ where: { id: BigInt(itemId) } });
    if (!row) {
      if (this.unknownUntil.size >= UNKNOWN_ITEM_MAX) this.unknownUntil.clear();
      this.unknownUntil.set(itemId, Date.now() + UNKNOWN_ITEM_TTL_MS);
      throw itemNotFound(itemId);
    }
    const sale = toSale(row);
    this.known.set(itemId, sale);
    return sale;
  }

  /** Every sale, with the stock the inventory consumer has written to its row (D in the reconciliation). */
  async all(tx: Db | DbTx = this.db): Promise<(Sale & { dbStock: number })[]> {
    const rows = await tx.item.findMany({ orderBy: { id: 'asc' } });
    return rows.map((row) => ({ ...toSale(row), dbStock: row.stock }));
  }
}
