// Redis key layout. Hash tags keep a segment's counter, lock and reservations in one slot (so one Lua script may touch
// them all on Redis Cluster) while different segments of the same item may live on different nodes.

export interface SegmentKeys {
  stock: string;
  lock: string;
  held: string;
  returned: string;
}

export function segmentKeys(itemId: string, segment: number): SegmentKeys {
  const tag = `{i${itemId}:s${segment}}`;
  return {
    stock: `sk:${tag}:stock`,
    lock: `sk:${tag}:lock`,
    held: `sk:${tag}:held`,
    returned: `sk:${tag}:returned`,
  };
}

export function itemKeys(itemId: string) {
  const tag = `{i${itemId}}`;
  return { buyers: `sk:${tag}:buyers`, soldOut: `sk:${tag}:soldout` };
}
