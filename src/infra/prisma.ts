import { PrismaPg } from '@prisma/adapter-pg';
import { Prisma, PrismaClient } from '../generated/prisma/client';

export { Prisma, PrismaClient };
export type Db = PrismaClient;
export type DbTx = Prisma.TransactionClient;

export function createPrisma(databaseUrl: string, poolSize = 10): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolSize });
  return new PrismaClient({ adapter });
}

/** P2002 is Prisma's unique violation; with the pg adapter the constraint name sits under driverAdapterError. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (!(err instanceof Prisma.PrismaClientKnownRequestError) || err.code !== 'P2002') return false;
  if (!constraint) return true;
  const cause = (err.meta?.driverAdapterError as { cause?: { constraint?: unknown } } | undefined)?.cause;
  const name = cause?.constraint;
  return typeof name === 'string' ? name === constraint : JSON.stringify(cause ?? {}).includes(constraint);
}
