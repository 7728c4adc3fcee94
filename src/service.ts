// Composition root: builds every part of the service from one Config. main.ts and the tests both start here.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import type { Config } from './config';
import { createApp } from './http/app';
import { createLogger, type Logger } from './infra/logger';
import { createPrisma, type Db } from './infra/prisma';
import { createRedis } from './infra/redis';
import { collectStats } from './metrics/reconciliation';
import { IdGenerator } from './orders/ids';
import { OrderStore } from './orders/order-store';
import type { PlaceOrderDeps } from './orders/place-order';
import { Sales } from './orders/sales';
import { Buyers } from './stock/buyers';
import { createStrategies, type Strategies } from './stock/strategies';

export interface Service {
  config: Config;
  log: Logger;
  redis: Redis;
  db: Db;
  strategies: Strategies;
  purchase: PlaceOrderDeps;
  adminToken: string;
  listen(): Promise<{ server: Server; url: string }>;
  close(): Promise<void>;
}

export function buildService(config: Config, log: Logger = createLogger(config.logLevel)): Service {
  const redis = createRedis(config.redisUrl);
  const db = createPrisma(config.databaseUrl);
  const ids = new IdGenerator(config.orders.workerId);
  const strategies = createStrategies(redis, db, config.stock);
  const sales = new Sales(db, strategies);
  const purchase: PlaceOrderDeps = {
    sales,
    strategies,
    buyers: new Buyers(redis),
    orders: new OrderStore(db, ids, config.orders.txTimeoutMs),
    ids,
    log,
  };
  const adminToken = config.adminToken ?? randomBytes(24).toString('base64url');
  let server: Server | undefined;

  const app = () =>
    createApp({
      log,
      adminToken,
      maxBodyBytes: config.http.maxBodyBytes,
      defaults: {
        segments: config.stock.defaultSegments,
        strategy: config.stock.strategy,
        paymentTimeoutMs: config.orders.paymentTimeoutMs,
      },
      purchase,
      stats: () => collectStats(db, sales, strategies),
      readiness: {
        redis: () => redis.ping(),
        postgres: () => db.$queryRaw`SELECT 1`,
      },
    });

  return {
    config,
    log,
    redis,
    db,
    strategies,
    purchase,
    adminToken,
    listen: () =>
      new Promise((resolve, reject) => {
        const listening = app().listen(config.http.port, config.http.host, (err?: Error) => {
          if (err) return reject(err);
          server = listening;
          const address = listening.address();
          const port = typeof address === 'object' && address ? address.port : config.http.port;
          resolve({ server: listening, url: `http://${config.http.host}:${port}` });
        });
      }),
    async close() {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await Promise.allSettled([db.$disconnect(), redis.quit()]);
    },
  };
}
