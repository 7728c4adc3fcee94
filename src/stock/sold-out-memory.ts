// Per-process memory of what this process saw recently, so a sold-out item costs no Redis round trip and empty
// segments are tried last. Entries expire: another process may give a unit back at any time. When a sold-out entry
// expires, one caller is sent to Redis to look again while the rest keep hearing "sold out" for one more period:
// otherwise every request in flight at that moment would walk every segment at once.

interface ItemMemory {
  soldOut?: { value: boolean; until: number };
  empty: Set<number>;
}

export class SoldOutMemory {
  private readonly items = new Map<string, ItemMemory>();

  constructor(private readonly ttlMs: number) {}

  /** undefined = not known recently: this caller asks Redis (and, for an expired entry, only this caller). */
  soldOut(itemId: string): boolean | undefined {
    const entry = this.items.get(itemId);
    const known = entry?.soldOut;
    if (!known) return undefined;
    const now = Date.now();
    if (known.until > now) return known.value;
    if (now - known.until > this.ttlMs) {
      // Nobody asked for a whole period: there is no herd to hold back, and an answer this old may be wrong (a unit
      // given back by another process). Everyone asks again.
      entry.soldOut = undefined;
      return undefined;
    }
    known.until = now + this.ttlMs; // the others keep the old answer while this caller looks again
    return undefined;
  }

  /**
   * Only reads: true while a sold-out this process saw is still fresh. For observers (the waiting room's refresh) that
   * must not take the recheck from a buyer: asking soldOut() on a timer would keep an expired entry alive forever.
   */
  seenSoldOut(itemId: string): boolean {
    const known = this.items.get(itemId)?.soldOut;
    return known !== undefined && known.value && known.until > Date.now();
  }

  /** A unit was just taken here: whatever this process remembered, the item is not sold out. */
  markInStock(itemId: string): void {
    const entry = this.items.get(itemId);
    if (entry) entry.soldOut = undefined;
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
