/**
 * BASELINE, NOT THE SERVICE. The purchase write of the design before group commit (main up to 197b548,
 * `src/orders/order-store.ts` createWithOutbox): every order is its own Prisma batch transaction,
 *   db.$transaction([db.order.create(...), db.outboxMessage.create(...)])
 * on a Prisma client with the general pool size (DATABASE_POOL_SIZE, 10 by default, as main had).
 *
 * It is generous to the old design: the Redis steps that came before the write in the old purchase (sold-out check,
 * buyer claim, unit take, reservation confirm) are left out, so only the per-order database write is measured. The
 * bench compares the service's purchase path with this endpoint, both on the same item of the same database.
 */
import type { Server } from 'node:http';
import express from 'express';
import type { RedisClient } from '../src/infra/redis';
import { parseInput, seckillBody } from '../src/http/validation';
import type { Logger } from '../src/infra/logger';
import { createPrisma } from '../src/infra/prisma';
import { ORDERS_TOPIC, type OrderEvent } from '../src/order-events';
import { IdGenerator, leaseWorkerId } from '../src/orders/ids';

export interface PerOrderBaselineOptions {
  databaseUrl: string;
  poolSize: number;
  /** Where the baseline leases its own worker id, so its order ids never collide with the service's. */
  redis: RedisClient;
  /** Orders are spread round-robin over this many segments, as the strategies spread them. */
  segments: number;
  log: Logger;
}

export interface PerOrderBaseline {
  server: Server;
  stop(): Promise<void>;
}

export async function startPerOrderBaseline(options: PerOrderBaselineOptions): Promise<PerOrderBaseline> {
  const db = createPrisma(options.databaseUrl, options.poolSize);
  const ids = new IdGenerator();
  const releaseWorkerId = await leaseWorkerId(options.redis, ids, options.log);
  let sent = 0;

  const app = express();
  app.use(express.json({ limit: '8kb' }));
  app.post('/seckill', async (req, res) => {
    const { userId, itemId } = parseInput(seckillBody, req.body);
    const orderId = ids.next();
    const segment = sent++ % options.segments;
    const event: OrderEvent = {
      type: 'order.created',
      orderId,
      itemId,
      userId,
      segment,
      at: new Date().toISOString(),
    };
    // What main's OrderStore.createWithOutbox did, one transaction per order.
    await db.$transaction([
      db.order.create({ data: { id: BigInt(orderId), userId, itemId: BigInt(itemId), segment } }),
      db.outboxMessage.create({
        data: {
          id: BigInt(ids.next()),
          topic: ORDERS_TOPIC,
          key: orderId,
          type: event.type,
          itemId: BigInt(itemId),
          payload: { ...event },
        },
      }),
    ]);
    res.status(201).json({ status: 'ordered', orderId });
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(listening)));
  });
  return {
    server,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await releaseWorkerId();
      await db.$disconnect();
    },
  };
}
