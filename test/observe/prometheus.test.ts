// A real Prometheus scrapes the service during a small crowd; its HTTP API then reports the order counter equal to
// the orders in the database, a waiting room's visitors as they joined, and every query of the Grafana dashboard
// evaluates on it.
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

test("a sale's waiting room shows in /metrics and through Prometheus: visitors, admissions, refused passes", async () => {
  await waitFor('the first scrape', async () => (await value('up{job="seckill"}')) === 1);
  // One admission at most while the test runs (one every 50 s, one unfinished): the other visitors stay waiting.
  const { itemId } = await stack.createSale({
    name: 'room scraped',
    stock: 5,
    segments: 1,
    admission: { mode: 'fifo', ratePerSec: 0.02, maxUnfinished: 1 },
  });
  const joined = await Promise.all(
    ['r0', 'r1', 'r2', 'r3'].map((userId) => stack.post(`/sales/${itemId}/waiting-room`, { userId })),
  );
  expect(joined.map((res) => res.status)).toEqual([200, 200, 200, 200]);
  const refused = await stack.post('/seckill', { userId: 'no-pass', itemId });
  expect(refused.body.error.code).toBe('pass_required');

  const item = `item="${itemId}"`;
  const gauge = (text: string, name: string) =>
    Number(new RegExp(`^${name}\\{${item}\\} (\\S+)$`, 'm').exec(text)?.[1]);
  await waitFor('the room in /metrics (the next refresh of the copy)', async () => {
    const res = await fetch(`${stack.url}/metrics`, {
      headers: { authorization: `Bearer ${OBSERVER_TOKEN}` },
    });
    const text = await res.text();
    const [waiting, admitted] = ['visitors', 'admitted_visitors'].map((name) =>
      gauge(text, `seckill_waiting_room_${name}`),
    );
    return (
      waiting + admitted === 4 &&
      Number.isFinite(gauge(text, 'seckill_waiting_room_admissions_per_second')) &&
      Number.isFinite(gauge(text, 'seckill_waiting_room_estimated_wait_seconds')) &&
      text.includes('seckill_waiting_room_passes_refused_total{code="pass_required"} 1')
    );
  });

  // The dashboard's queries, on what Prometheus scraped.
  await waitFor(
    'the room through Prometheus',
    async () =>
      (await value(
        `max by (item) (seckill_waiting_room_visitors{${item}}) + ` +
          `max by (item) (seckill_waiting_room_admitted_visitors{${item}})`,
      )) === 4,
    20_000,
  );
  expect(await value(`max by (item) (seckill_waiting_room_estimated_wait_seconds{${item}})`)).toBeGreaterThan(
    0,
  );
  expect(await value('sum by (code) (seckill_waiting_room_passes_refused_total{code="pass_required"})')).toBe(
    1,
  );
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
