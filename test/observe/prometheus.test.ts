// A real Prometheus scrapes the service during a small crowd; its HTTP API then reports the order counter equal to
// the orders in the database, and every query of the Grafana dashboard evaluates on it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, waitFor, type TestStack } from '../support/stack';
import { prometheusBinary, startPrometheus, type RunningPrometheus } from '../support/prometheus';

const OBSERVER_TOKEN = 'prometheus-test-observer-0123456789';
let stack: TestStack;
let prometheus: RunningPrometheus;

beforeAll(async () => {
  // The observer token is set so the test also proves Prometheus can scrape a protected /metrics.
  stack = await startStack(12, { env: { OBSERVER_TOKEN } });
  prometheus = await startPrometheus([
    { job: 'seckill', target: new URL(stack.url).host, bearer: OBSERVER_TOKEN },
  ]);
});
afterAll(async () => {
  await prometheus?.stop();
  await stack?.stop();
});

const value = async (expr: string) => {
  const { result } = await prometheus.query(expr);
  return result.length ? Number(result[0].value[1]) : undefined;
};

test('Prometheus scrapes the crowd: its order counter is the number of orders in the database', async () => {
  await waitFor('the first scrape', async () => (await value('up{job="seckill"}')) === 1);
  const { itemId } = await stack.createSale({ name: 'scraped', stock: 25, segments: 4 });
  const answers = await Promise.all(
    Array.from({ length: 60 }, (_, i) => stack.post('/seckill', { userId: `p${i}`, itemId })),
  );
  const ordered = answers.filter((res) => res.status === 201).length;
  const inDatabase = await stack.service.db.order.count();
  expect(ordered).toBe(25);
  expect(inDatabase).toBe(25);

  // A scrape taken mid-crowd can already hold all 25 orders but not yet the last sold-out answers: only a scrape
  // that started after the last answer holds the crowd's final counts.
  const crowdEnded = Date.now() / 1000;
  await waitFor(
    'a scrape taken after the crowd',
    async () => ((await value('timestamp(up{job="seckill"})')) ?? 0) > crowdEnded,
    20_000,
  );
  expect(await value('sum(seckill_orders_created_total{job="seckill"})')).toBe(inDatabase);
  expect(await value('sum(seckill_requests_total{job="seckill"})')).toBe(60);
  // The other 35 heard sold out, or busy while the last units were still held by purchases awaiting their commit.
  const soldOut = answers.filter((res) => res.status === 410).length;
  const busy = answers.filter((res) => res.status === 503).length;
  expect(soldOut + busy).toBe(35);
  expect(await value('sum(seckill_requests_total{outcome="sold_out"})')).toBe(soldOut);
  expect((await value('sum(seckill_requests_total{outcome="busy"})')) ?? 0).toBe(busy);
  await waitFor(
    'the stock gauge to reach 0',
    async () => (await value(`seckill_stock_remaining_units{item="${itemId}"}`)) === 0,
    20_000,
  );
  expect(await value(`seckill_oversell_units{item="${itemId}"}`)).toBe(0);
});

test("every query of the Grafana dashboard evaluates on this Prometheus (k6's too, even with no data)", async () => {
  const dashboard = JSON.parse(
    readFileSync(join(__dirname, '../../deploy/grafana/dashboards/seckill.json'), 'utf8'),
  ) as { panels: { targets?: { expr: string }[] }[] };
  const exprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
  expect(exprs.length).toBeGreaterThan(5);
  for (const expr of exprs) {
    // Grafana substitutes $__rate_interval; a fixed window stands in for it here.
    await expect(prometheus.query(expr.replaceAll('$__rate_interval', '1m'))).resolves.toHaveProperty(
      'resultType',
    );
  }
});

test('a missing binary fails the test with the package to install, never a skip', () => {
  expect(() => prometheusBinary('/nonexistent/prometheus')).toThrow(/Debian package "prometheus"/);
  expect(prometheusBinary()).toMatch(/prometheus$/);
});
