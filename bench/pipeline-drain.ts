// How long the asynchronous half takes to drain N orders: the outbox relay (PostgreSQL → Kafka) and the inventory
// consumer (Kafka → PostgreSQL), measured separately, against a baseline of raw kafkajs produce throughput of the same
// messages in the same run. A benchmark script, not a test: `npm run bench:drain` (ORDERS=10000 by default).
// `npm run bench` runs it too (as a child process, with BENCH_DRAIN_ORDERS orders) and prints its goal line.
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { loadConfig } from '../src/config';
import { createKafka, createProducer, ensureTopics } from '../src/infra/kafka';
import { createLogger } from '../src/infra/logger';
import { placeOrder } from '../src/orders/place-order';
import { buildService } from '../src/service';
import { startSimBackends } from '../src/sim/backends';

const ORDERS = Number(process.env.ORDERS ?? 10_000);
const CONCURRENCY = 64;
/** Given to the parent bench over IPC when it forked this script with this flag. */
export const REPORT_FLAG = '--report-to-parent';

/** Rates in messages/s. "total" runs from the stage's start (connect, group join) to the last message; "steady"
 *  from its first message to its last, i.e. without the start-up. */
export interface DrainReport {
  orders: number;
  placePerSec: number;
  baselinePerSec: number;
  relay: { totalPerSec: number; steadyPerSec: number; startupMs: number };
  consumer: { totalPerSec: number; steadyPerSec: number; startupMs: number };
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
}

/**
 * Polls `remaining` until it reaches 0; returns when the first unit of work was seen done (remaining below its
 * starting value) and when all of it was, both relative to `start`.
 */
async function drained(
  start: number,
  initial: number,
  remaining: () => Promise<number>,
  timeoutMs = 600_000,
): Promise<{ firstMs: number; lastMs: number }> {
  let firstMs: number | undefined;
  for (;;) {
    const left = await remaining();
    const now = performance.now() - start;
    if (left < initial) firstMs ??= now;
    if (left === 0) return { firstMs: firstMs ?? now, lastMs: now };
    if (now > timeoutMs) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function main() {
  const backends = await startSimBackends(process.env);
  const config = loadConfig({
    ...process.env,
    ...backends.env,
    PORT: '0',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_USER_PER_SEC: '0',
  });
  const service = buildService(config, { log: createLogger('warn', 'bench') });
  try {
    // Orders first, with neither relay nor consumer running, so each stage is timed on a full backlog.
    await service.start(['worker']);
    const sale = await service.sales.create({
      name: 'drain bench',
      stock: ORDERS,
      segments: 8,
      strategy: 'lua',
      paymentTimeoutMs: 3600_000,
    });
    let next = 0;
    const place = await timed(() =>
      Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < ORDERS)
            await placeOrder(service.purchase, { userId: `b${next++}`, itemId: sale.itemId });
        }),
      ),
    );
    const backlog = await service.db.outboxMessage.count({ where: { status: 'PENDING' } });

    await service.connectKafka();
    const baseline = await rawProduceBaseline(service.running.brokers!, backlog);

    const pending = () => service.db.outboxMessage.count({ where: { status: 'PENDING' } });
    const relayStart = performance.now();
    await service.start(['relay']);
    const relay = await drained(relayStart, backlog, pending);

    // Units of the backlog's orders the consumer has not yet taken off the item's stock (a purchase that was
    // answered busy left its unit on the item, so the count ends at 0 either way).
    const stockLeft = async () =>
      (await service.db.item.findUniqueOrThrow({ where: { id: BigInt(sale.itemId) } })).stock -
      (ORDERS - backlog);
    const consumerStart = performance.now();
    await service.start(['consumer']);
    const consumer = await drained(consumerStart, backlog, stockLeft);

    const rate = (count: number, ms: number) => Math.round((count / ms) * 1000);
    // The first poll that sees progress has already seen some messages done: the steady rate counts from there on.
    const steady = (stage: { firstMs: number; lastMs: number }) =>
      stage.lastMs > stage.firstMs
        ? rate(backlog, stage.lastMs - stage.firstMs)
        : rate(backlog, stage.lastMs);
    console.log(`pipeline drain: ${backlog} orders · node ${process.version} · ${cpus().length} cores`);
    console.log(`backends: ${Object.values(backends.describe).join(' | ')}`);
    console.table([
      {
        stage: 'place orders (Redis + group-committed order/outbox tx)',
        ms: Math.round(place.ms),
        'msg/s': rate(backlog, place.ms),
      },
      {
        stage: 'baseline: raw kafkajs produce, same messages',
        ms: Math.round(baseline),
        'msg/s': rate(backlog, baseline),
      },
      {
        stage: 'relay: outbox → Kafka (start, claim, publish, mark)',
        ms: Math.round(relay.lastMs),
        'msg/s': rate(backlog, relay.lastMs),
      },
      {
        stage: 'relay, steady (first message sent → last)',
        ms: Math.round(relay.lastMs - relay.firstMs),
        'msg/s': steady(relay),
      },
      {
        stage: 'consumer: Kafka → dedupe + stock (join, apply)',
        ms: Math.round(consumer.lastMs),
        'msg/s': rate(backlog, consumer.lastMs),
      },
      {
        stage: 'consumer, steady (first message applied → last)',
        ms: Math.round(consumer.lastMs - consumer.firstMs),
        'msg/s': steady(consumer),
      },
    ]);
    console.log(`relay / baseline throughput: ${(baseline / relay.lastMs).toFixed(2)}×`);
    console.log(`consumer / baseline throughput: ${(baseline / consumer.lastMs).toFixed(2)}×`);
    console.log(
      `total drain (relay then consumer, sequential): ${((relay.lastMs + consumer.lastMs) / 1000).toFixed(1)} s`,
    );
    const report: DrainReport = {
      orders: backlog,
      placePerSec: rate(backlog, place.ms),
      baselinePerSec: rate(backlog, baseline),
      relay: {
        totalPerSec: rate(backlog, relay.lastMs),
        steadyPerSec: steady(relay),
        startupMs: relay.firstMs,
      },
      consumer: {
        totalPerSec: rate(backlog, consumer.lastMs),
        steadyPerSec: steady(consumer),
        startupMs: consumer.firstMs,
      },
    };
    if (process.argv.includes(REPORT_FLAG)) process.send?.(report);
  } finally {
    await service.stop();
    await backends.stop();
  }
}

/** The ceiling the relay is compared with: the same number of ~300-byte messages sent straight through kafkajs. */
async function rawProduceBaseline(brokers: string[], count: number): Promise<number> {
  const kafka = createKafka(brokers, createLogger('warn', 'bench'), 'bench-baseline');
  const topic = `bench-baseline-${randomUUID().slice(0, 8)}`;
  await ensureTopics(kafka, [topic], loadConfig().kafka.partitions);
  const producer = createProducer(kafka);
  await producer.connect();
  const value = JSON.stringify({
    type: 'order.created',
    orderId: '1'.repeat(19),
    itemId: '1',
    userId: 'u',
    segment: 0,
    at: new Date().toISOString(),
  });
  const { ms } = await timed(async () => {
    for (let sent = 0; sent < count; sent += 200) {
      const batch = Array.from({ length: Math.min(200, count - sent) }, (_, i) => ({
        key: String(sent + i),
        value,
      }));
      await producer.send({ topic, acks: -1, messages: batch });
    }
  });
  await producer.disconnect();
  return ms;
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
