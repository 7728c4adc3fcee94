// One purchase per user per item, checked atomically in Redis (SADD) before any stock is touched. The unique
// constraint on orders (item, user) backs it up if Redis ever forgets.
import type { Redis } from 'ioredis';
import { itemKeys } from './keys';

export class Buyers {
  constructor(private readonly redis: Redis) {}

  /** false when this user already holds (or is buying) this item. */
  async claim(itemId: string, userId: string): Promise<boolean> {
    return (await this.redis.sadd(itemKeys(itemId).buyers, userId)) === 1;
  }

  /** The purchase did not happen: the user may try again. */
  async release(itemId: string, userId: string): Promise<void> {
    await this.redis.srem(itemKeys(itemId).buyers, userId);
  }
}
