// How long the asynchronous half takes to drain N orders: the outbox relay (PostgreSQL → Kafka) and the inventory
// consumer (Kafka → PostgreSQL), measured separately, against a baseline of raw kafkajs produce throughput of the same
// messages in the same run. A benchmark script, not a test: `npm run bench:drain` (ORDERS=10000 by default).
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

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
}

async function until(check: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
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

    const relayStart = performance.now();
    await service.start(['relay']);
    await until(async () => (await service.db.outboxMessage.count({ where: { status: 'PENDING' } })) === 0);
    const relayMs = performance.now() - relayStart;

    const consumerStart = performance.now();
    await service.start(['consumer']);
    await until(async () => {
      const item = await service.db.item.findUniqueOrThrow({ where: { id: BigInt(sale.itemId) } });
      return item.stock === 0;
    });
    const consumerMs = performance.now() - consumerStart;

    const rate = (count: number, ms: number) => Math.round((count / ms) * 1000);
    console.log(`pipeline drain: ${backlog} orders · node ${process.version} · ${cpus().length} cores`);
    console.log(`backends: ${Object.values(backends.describe).join(' | ')}`);
    console.table([
      {
        stage: 'place orders (Redis + order/outbox tx)',
        ms: Math.round(place.ms),
        'msg/s': rate(backlog, place.ms),
      },
      {
        stage: 'baseline: raw kafkajs produce, same messages',
        ms: Math.round(baseline),
        'msg/s': rate(backlog, baseline),
      },
      {
        stage: 'relay: outbox → Kafka (claim, publish, mark)',
        ms: Math.round(relayMs),
        'msg/s': rate(backlog, relayMs),
      },
      {
        stage: 'consumer: Kafka → dedupe + stock',
        ms: Math.round(consumerMs),
        'msg/s': rate(backlog, consumerMs),
      },
    ]);
    console.log(`relay / baseline throughput: ${(baseline / relayMs).toFixed(2)}×`);
    console.log(`consumer / baseline throughput: ${(baseline / consumerMs).toFixed(2)}×`);
    console.log(
      `total drain (relay then consumer, sequential): ${((relayMs + consumerMs) / 1000).toFixed(1)} s`,
    );
  } finally {
    await service.stop();
    await backends.stop();
  }
}

/** The ceiling the relay is compared with: the same number of ~300-byte messages sent straight through kafkajs. */
async function rawProduceBaseline(brokers: string[], count: number): Promise<number> {
  const kafka = createKafka(brokers, createLogger('warn', 'bench'), 'bench-baseline');
  const topic = `bench-baseline-${randomUUID().slice(0, 8)}`;
  await ensureTopics(kafka, [topic]);
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

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
