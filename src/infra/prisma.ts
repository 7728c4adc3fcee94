import { PrismaPg } from '@prisma/adapter-pg';
import type { Pool } from 'pg';
import { Prisma, PrismaClient } from '../generated/prisma/client';

export { Prisma, PrismaClient };
export type Db = PrismaClient;
export type DbTx = Prisma.TransactionClient;

/** Prisma on a pool of its own (a URL and a size), or on a pool the caller owns and ends. */
export function createPrisma(database: string | Pool, poolSize = 10): PrismaClient {
  const adapter = new PrismaPg(
    typeof database === 'string' ? { connectionString: database, max: poolSize } : database,
  );
  return new PrismaClient({ adapter });
}
