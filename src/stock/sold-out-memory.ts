// Per-process memory of what this process saw recently, so a sold-out item costs no Redis round trip and empty
// segments are tried last. Entries expire: another process may give a unit back at any time.

interface ItemMemory {
  soldOut?: { value: boolean; until: number };
  empty: Set<number>;
}

export class SoldOutMemory {
  private readonly items = new Map<string, ItemMemory>();

  constructor(private readonly ttlMs: number) {}

  /** undefined = not known recently; ask Redis. */
  soldOut(itemId: string): boolean | undefined {
    const known = this.items.get(itemId)?.soldOut;
    return known && known.until > Date.now() ? known.value : undefined;
  }

  markSoldOut(itemId: string): void {
    this.entry(itemId).soldOut = { value: true, until: Date.now() + this.ttlMs };
  }

  markSegmentEmpty(itemId: string, segment: number): void {
    this.entry(itemId).empty.add(segment);
  }

  emptySegments(itemId: string): ReadonlySet<number> {
    return this.items.get(itemId)?.empty ?? new Set();
  }

  forget(itemId: string): void {
    this.items.delete(itemId);
  }

  private entry(itemId: string): ItemMemory {
    let entry = this.items.get(itemId);
    if (!entry) {
      entry = { empty: new Set() };
      this.items.set(itemId, entry);
    }
    return entry;
  }
}
