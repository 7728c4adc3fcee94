// Redis key layout, private to the stock module. A segment's keys share one hash tag, so every script touches one
// slot (Redis Cluster) while the segments of one item spread over the nodes. The buyers of an item are sharded the
// same way: shard k lives in segment k's slot, so the lua strategy claims and takes in one script.
import { crc32 } from 'node:zlib';

export interface SegmentKeys {
  /** Which segment these are the keys of (the db-lock strategy locks its ledger row). */
  itemId: string;
  segment: number;
  stock: string;
  lock: string;
  held: string;
  returned: string;
  ops: string;
  buyers: string;
  /** Highest fencing token of an external lock (etcd-lock, zk-lock, redlock, db-lock) that reached this segment. */
  fence: string;
}

export function segmentKeys(itemId: string, segment: number): SegmentKeys {
  const tag = `{i${itemId}:s${segment}}`;
  return {
    itemId,
    segment,
    stock: `sk:${tag}:stock`,
    lock: `sk:${tag}:lock`,
    held: `sk:${tag}:held`,
    returned: `sk:${tag}:returned`,
    ops: `sk:${tag}:ops`,
    buyers: `sk:${tag}:buyers`,
    fence: `sk:${tag}:fence`,
  };
}

/** The buyers shard (= home segment) of a user: stable for the sale's life, spread evenly by a hash. */
export function homeSegment(userId: string, segments: number): number {
  return crc32(userId) % segments;
}

export function itemKeys(itemId: string) {
  const tag = `{i${itemId}}`;
  return { soldOut: `sk:${tag}:soldout`, repair: `sk:${tag}:repair` };
}
