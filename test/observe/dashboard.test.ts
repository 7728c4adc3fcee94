// The provisioned Grafana dashboard: the shape Grafana needs, and every PromQL query names only metrics the service
// exports (k6_* come from k6's remote write, not from the service). Also the provisioning files that load it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMetrics } from '../../src/metrics/registry';

const root = join(__dirname, '../..');
const dashboard = JSON.parse(readFileSync(join(root, 'deploy/grafana/dashboards/seckill.json'), 'utf8'));

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string }[];
}
const panels = dashboard.panels as Panel[];
const queryPanels = panels.filter((panel) => panel.type !== 'row');

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels, strings or durations. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range windows, $__rate_interval
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // label lists
  const names: string[] = [];
  for (const match of stripped.matchAll(/(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = stripped.slice(match.index! + match[0].length).trimStart();
    if (after.startsWith('(') || PROMQL_WORDS.has(match[0].toLowerCase())) continue; // a function or keyword
    names.push(match[0]);
  }
  return names;
}

async function exportedNames(): Promise<Set<string>> {
  const metrics = await createMetrics().registry.getMetricsAsJSON();
  const names = new Set<string>();
  for (const metric of metrics) {
    names.add(metric.name);
    // A histogram is exported as three series; queries use _bucket (quantiles), _sum and _count (averages).
    if (String(metric.type) === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
  }
  return names;
}

test('the name extractor finds metrics and nothing else (so the check below can fail)', () => {
  expect(
    metricNames(
      'histogram_quantile(0.95, sum by (le, outcome) (rate(seckill_x_bucket{outcome="a b"}[$__rate_interval])))',
    ),
  ).toEqual(['seckill_x_bucket']);
  expect(metricNames('sum(a_total) / ignoring(job) b_count offset 5m')).toEqual(['a_total', 'b_count']);
});

test('Grafana dashboard shape: uid, title, panels with type, title, gridPos, and targets with expr', () => {
  expect(dashboard).toMatchObject({
    uid: 'seckill',
    title: expect.any(String),
    schemaVersion: expect.any(Number),
  });
  expect(queryPanels.length).toBeGreaterThanOrEqual(8);
  const ids = panels.map((panel) => panel.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const panel of panels) {
    expect(typeof panel.type).toBe('string');
    expect(panel.title).toMatch(/\S/);
    const { h, w, x, y } = panel.gridPos;
    for (const n of [h, w, x, y]) expect(Number.isInteger(n) && n >= 0).toBe(true);
    expect(x + w).toBeLessThanOrEqual(24); // Grafana's grid is 24 columns wide
  }
  for (const panel of queryPanels) {
    expect(panel.datasource).toEqual({ type: 'prometheus', uid: 'prometheus' });
    expect(panel.targets!.length).toBeGreaterThan(0);
    for (const target of panel.targets!) {
      expect(target.refId).toMatch(/^[A-Z]$/);
      expect(target.expr).toMatch(/\S/);
    }
  }
});

test('every panel queries only metrics the service exports (k6_* exempt: k6 pushes them)', async () => {
  const exported = await exportedNames();
  const unknown: string[] = [];
  for (const panel of queryPanels) {
    for (const { expr } of panel.targets!) {
      const names = metricNames(expr);
      expect([panel.title, names.length]).not.toEqual([panel.title, 0]);
      for (const name of names)
        if (!name.startsWith('k6_') && !exported.has(name)) unknown.push(`${panel.title}: ${name}`);
    }
  }
  expect(unknown).toEqual([]);
});

test('the dashboard shows what issue 13 asks for, k6 included', () => {
  const all = queryPanels.flatMap((panel) => panel.targets!.map((target) => target.expr)).join('\n');
  for (const needed of [
    'seckill_requests_total',
    'histogram_quantile',
    'seckill_stock_remaining_units',
    'seckill_oversell_units',
    'seckill_undersell_units',
    'seckill_outbox_pending_messages',
    'seckill_consumer_lag_messages',
    'k6_http_req_duration_p95',
  ]) {
    expect(all).toContain(needed);
  }
});

test('the dashboard shows the waiting room (issue 18): visitors, admissions, estimated wait, refused passes', () => {
  const room = queryPanels.filter((panel) =>
    panel.targets!.some((target) => target.expr.includes('seckill_waiting_room_')),
  );
  const all = room.flatMap((panel) => panel.targets!.map((target) => target.expr)).join('\n');
  for (const needed of [
    'seckill_waiting_room_visitors',
    'seckill_waiting_room_admissions_per_second',
    'seckill_waiting_room_admitted_visitors',
    'seckill_waiting_room_estimated_wait_seconds',
    'seckill_waiting_room_passes_refused_total',
  ]) {
    expect(all).toContain(needed);
  }
  // Every api process exports its own copy of a room's gauges: a sum would count one room once per process.
  for (const expr of all.split('\n')) if (!expr.includes('_total')) expect(expr).toMatch(/^max by \(item\)/);
  // The room's panels sit in a row of their own, above the k6 row.
  const row = panels.find((panel) => panel.type === 'row' && /waiting room/i.test(panel.title))!;
  const k6Row = panels.find((panel) => panel.type === 'row' && /k6/.test(panel.title))!;
  for (const panel of room) expect(panel.gridPos.y).toBeGreaterThan(row.gridPos.y);
  for (const panel of room) expect(panel.gridPos.y).toBeLessThan(k6Row.gridPos.y);
});

test('provisioning: the datasource uid the panels use, and the folder the dashboards are mounted in', () => {
  const datasource = readFileSync(
    join(root, 'deploy/grafana/provisioning/datasources/prometheus.yml'),
    'utf8',
  );
  expect(datasource).toMatch(/^\s+uid: prometheus$/m);
  expect(datasource).toMatch(/url: http:\/\/prometheus:9090/);
  const provider = readFileSync(join(root, 'deploy/grafana/provisioning/dashboards/seckill.yml'), 'utf8');
  const path = /path: (\S+)/.exec(provider)?.[1];
  const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
  expect(compose).toContain(`./deploy/grafana/dashboards:${path}:ro`);
  expect(compose).toContain('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro');
});
