/**
 * Group commit alone, without HTTP or Redis: the same orders written by the OrderWriter (batches, one transaction
 * each, the ledger as arbiter) and, as the baseline, one Prisma batch transaction per order (what the purchase path
 * did before group commit; the same write bench/per-order-baseline.ts serves over HTTP). Both keep the same number of
 * orders in flight and write to the same database in the same run, in alternating rounds; the ratio is the figure.
 *   npm run bench:writer        BENCH_WRITER_ORDERS (5000), BENCH_WRITER_IN_FLIGHT (64), BENCH_ROUNDS (2)
 */
import os from 'node:os';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/infra/logger';
import { ORDERS_TOPIC } from '../src/order-events';
import { buildService, type Service } from '../src/service';
import { startSimBackends } from '../src/sim/backends';

const ORDERS = Number(process.env.BENCH_WRITER_ORDERS ?? 5000);
const IN_FLIGHT = Number(process.env.BENCH_WRITER_IN_FLIGHT ?? 64);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SEGMENTS = 8;

type Writer = (userId: string, segment: number) => Promise<unknown>;

/** Keeps IN_FLIGHT orders outstanding until ORDERS are written; returns orders per second. */
async function drive(write: Writer, prefix: string): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  const buyer = async () => {
    for (let i = next++; i < ORDERS; i = next++) await write(`${prefix}-${i}`, i % SEGMENTS);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, buyer));
  return ORDERS / (Number(process.hrtime.bigint() - started) / 1e9);
}

function perOrderPrisma(service: Service, itemId: string): Writer {
  const { db } = service;
  return async (userId, segment) => {
    const orderId = service.purchase.ids.next();
    const event = { type: 'order.created', orderId, itemId, userId, segment, at: new Date().toISOString() };
    await db.$transaction([
      db.order.create({ data: { id: BigInt(orderId), userId, itemId: BigInt(itemId), segment } }),
      db.outboxMessage.create({
        data: {
          id: BigInt(service.purchase.ids.next()),
          topic: ORDERS_TOPIC,
          key: orderId,
          type: event.type,
          itemId: BigInt(itemId),
          payload: event,
        },
      }),
    ]);
  };
}

function groupCommit(service: Service, itemId: string): Writer {
  return async (userId, segment) => {
    const outcome = await service.writer.write({
      orderId: service.purchase.ids.next(),
      itemId,
      userId,
      segment,
      paymentTimeoutMs: 3_600_000,
    });
    if (outcome !== 'ordered') throw new Error(`group commit answered ${outcome}`);
  };
}

async function main(): Promise<void> {
  const backends = await startSimBackends(process.env);
  const config = loadConfig({ ...process.env, ...backends.env, LOG_LEVEL: 'warn' });
  const service = buildService(config, { log: createLogger('warn') });
  await service.start([]);
  try {
    const sale = await service.sales.create({
      name: 'bench writer',
      stock: 10_000_000,
      segments: SEGMENTS,
      strategy: 'lua',
      paymentTimeoutMs: 3_600_000,
    });
    console.log(
      `group commit vs one Prisma transaction per order · ${ORDERS} orders per run, ${IN_FLIGHT} in flight · ` +
        `node ${process.version} · ${os.cpus().length} cores · load average ${os.loadavg()[0].toFixed(1)}\n` +
        `backends: ${backends.describe.postgres}\n`,
    );
    const rows: { round: number; perOrder: number; grouped: number }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which goes first, so a drifting machine load favours neither.
      const first = round % 2 === 1;
      const a = first ? await drive(perOrderPrisma(service, sale.itemId), `p${round}`) : 0;
      const grouped = await drive(groupCommit(service, sale.itemId), `g${round}`);
      const perOrder = first ? a : await drive(perOrderPrisma(service, sale.itemId), `p${round}`);
      rows.push({ round, perOrder, grouped });
      console.log(
        `round ${round}: one Prisma tx per order ${perOrder.toFixed(0)} orders/s · group commit ${grouped.toFixed(0)} ` +
          `orders/s · ${(grouped / perOrder).toFixed(2)}×`,
      );
    }
    const mean = (pick: (r: (typeof rows)[number]) => number) =>
      rows.reduce((s, r) => s + pick(r), 0) / rows.length;
    const ratio = mean((r) => r.grouped) / mean((r) => r.perOrder);
    console.log(
      `\n  group commit vs per-order Prisma tx: ${ratio.toFixed(2)}×  (goal ≥ 5×) ${ratio >= 5 ? 'met' : 'MISSED'}`,
    );
  } finally {
    await service.stop();
    await backends.stop();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
