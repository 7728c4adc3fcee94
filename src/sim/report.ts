// Renders a simulator report three ways: a terminal table, one self-contained HTML page (Chart.js inlined, so it
// opens offline and can be attached to a CI run), and the raw report.json it was built from.
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import type { AdmissionFairness } from './fairness';
import type { RunReport, SimReport } from './report-types';

interface TableRow {
  label: string;
  value: (run: RunReport) => string;
}

const MISSING = '-';

function formatCount(n: number): string {
  return String(n);
}

function formatRate(perSec: number): string {
  return perSec.toFixed(1);
}

function formatMs(ms: number): string {
  return `${ms.toFixed(1)} ms`;
}

function formatShare(value: number | null): string {
  return value === null ? MISSING : value.toFixed(3);
}

function formatDuration(ms: number | null): string {
  if (ms === null) return MISSING;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** Sell-out time as a multiple of lua's in the same report (the fastest safe gate, so the yardstick). */
function sellOutVsLua(report: SimReport): (run: RunReport) => string {
  const lua = report.runs.find((run) => run.strategy === 'lua')?.timeToSellOutMs;
  return (run) =>
    lua && run.timeToSellOutMs !== null ? `${(run.timeToSellOutMs / lua).toFixed(2)}×` : MISSING;
}

function formatP(value: number | null | undefined): string {
  if (value === null || value === undefined) return MISSING;
  return value < 0.001 ? '<0.001' : value.toFixed(3);
}

function formatOptionalMs(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? MISSING : formatDuration(ms);
}

const roomFairness = (run: RunReport): Partial<AdmissionFairness> =>
  run.fairness as Partial<AdmissionFairness>;

/** A kind of visitor's share of the units won, then of the accounts: "12.0% / 10.0%". */
function kindShare(kind: keyof AdmissionFairness['byKind']): (run: RunReport) => string {
  return (run) => {
    const byKind = roomFairness(run).byKind;
    if (!byKind) return MISSING;
    const all = Object.values(byKind);
    const units = all.reduce((sum, k) => sum + k.units, 0);
    const accounts = all.reduce((sum, k) => sum + k.accounts, 0);
    const share = (part: number, whole: number) =>
      whole ? `${((100 * part) / whole).toFixed(1)}%` : MISSING;
    return `${share(byKind[kind].units, units)} / ${share(byKind[kind].accounts, accounts)}`;
  };
}

// --compare-admission: what each mode gave the crowd (fairness.ts's AdmissionFairness).
const ADMISSION_ROWS: TableRow[] = [
  {
    label: 'requests join/status/buy',
    value: (r) =>
      r.requestsByRoute
        ? `${r.requestsByRoute.join}/${r.requestsByRoute.status}/${r.requestsByRoute.purchase}`
        : MISSING,
  },
  { label: 'purchase p99 (POST /seckill)', value: (r) => formatOptionalMs(roomFairness(r).purchaseP99Ms) },
  { label: 'queue p50 (join → pass)', value: (r) => formatOptionalMs(roomFairness(r).queueP50Ms) },
  { label: 'queue p99 (join → pass)', value: (r) => formatOptionalMs(roomFairness(r).queueP99Ms) },
  {
    label: 'told sold out while waiting',
    value: (r) => {
      const told = roomFairness(r).toldSoldOutWhileWaiting;
      return told === null || told === undefined ? MISSING : formatCount(told);
    },
  },
  { label: 'randomUniformityP', value: (r) => formatP(roomFairness(r).randomUniformityP) },
  { label: 'bots: units / accounts', value: kindShare('bot') },
  { label: 'impatient: units / accounts', value: kindShare('impatient') },
  { label: 'patient: units / accounts', value: kindShare('patient') },
];

const isAdmissionReport = (report: SimReport) => report.runs.some((run) => run.admission !== undefined);

/** A column's name: the strategy, or in --compare-admission the admission mode. */
const columnOf = (run: RunReport) => run.admission ?? run.strategy;

function rowsOf(report: SimReport): TableRow[] {
  const rows = [...ROWS];
  if (isAdmissionReport(report)) {
    rows.splice(rows.length - 1, 0, ...ADMISSION_ROWS);
    return rows;
  }
  rows.splice(rows.findIndex((row) => row.label === 'time to sell out') + 1, 0, {
    label: 'sell-out vs lua',
    value: sellOutVsLua(report),
  });
  return rows;
}

// The single list of rows, shared by the terminal and HTML tables so the two can never disagree.
const ROWS: TableRow[] = [
  { label: 'requests', value: (r) => formatCount(r.requests) },
  { label: 'rate (req/s)', value: (r) => formatRate(r.ratePerSec) },
  { label: 'latency p50', value: (r) => formatMs(r.latencyMs.p50) },
  { label: 'latency p95', value: (r) => formatMs(r.latencyMs.p95) },
  { label: 'latency p99', value: (r) => formatMs(r.latencyMs.p99) },
  { label: 'ordered', value: (r) => formatCount(r.outcomes.ordered) },
  { label: 'sold_out', value: (r) => formatCount(r.outcomes.sold_out) },
  { label: 'duplicate', value: (r) => formatCount(r.outcomes.duplicate) },
  { label: 'busy', value: (r) => formatCount(r.outcomes.busy) },
  { label: 'rate_limited', value: (r) => formatCount(r.outcomes.rate_limited) },
  { label: 'errors', value: (r) => formatCount(r.outcomes.errors) },
  { label: 'oversell', value: (r) => formatCount(r.reconciliation.oversell) },
  { label: 'undersell', value: (r) => formatCount(r.reconciliation.undersell) },
  { label: 'dbDrift', value: (r) => formatCount(r.reconciliation.dbDrift) },
  { label: 'time to sell out', value: (r) => formatDuration(r.timeToSellOutMs) },
  { label: 'time to drain', value: (r) => formatDuration(r.timeToDrainMs) },
  { label: 'kendallTau (arrival vs grant)', value: (r) => formatShare(r.fairness.kendallTau) },
  { label: 'firstComersServed', value: (r) => formatShare(r.fairness.firstComersServed) },
  { label: 'verdict', value: (r) => r.verdict },
];

function describeScenario(report: SimReport): string {
  const s = report.scenario;
  const load = [
    s.concurrency === undefined ? null : `concurrency ${s.concurrency}`,
    s.ratePerSec === undefined ? null : `${s.ratePerSec} req/s`,
  ].filter((part) => part !== null);
  // A crowd of visitors has no planned requests, concurrency or duplicates: it behaves (visitors.ts).
  const crowd = s.admission
    ? [`${s.users} visitors`]
    : [`${s.users} users`, `${s.requests} requests`, ...load, `duplicates ${s.duplicateRatio}`];
  return [
    `scenario ${s.name}`,
    `stock ${s.stock} in ${s.segments} segments`,
    ...crowd,
    `pay ${s.payRatio}`,
    `payment timeout ${s.paymentTimeoutMs} ms`,
    ...(s.admission
      ? [
          `strategy ${report.runs[0]?.strategy ?? MISSING}`,
          `arrivals over ${s.admission.arrivalWindowMs} ms`,
          `bots ${s.admission.botShare} of accounts (${s.admission.accountsPerBot} each)`,
          `impatient ${s.admission.impatientShare}`,
          `room ${s.admission.ratePerSec ? `${s.admission.ratePerSec}/s` : 'no rate'}, cap ${s.admission.maxUnfinished} (random ${s.admission.randomMaxUnfinished}), pass ${s.admission.passTtlMs} ms`,
          `random's pre-queue ${s.admission.preQueueMs} ms`,
        ]
      : []),
  ].join(', ');
}

function describeBackends(report: SimReport): string {
  const b = report.backends;
  const locks = b.locks ? ` | locks: ${b.locks}` : '';
  const api = b.api ? ` | api: ${b.api}` : '';
  return `redis: ${b.redis} | postgres: ${b.postgres} | kafka: ${b.kafka}${locks}${api}`;
}

function describeSkipped(report: SimReport): string[] {
  return (report.skipped ?? []).map((skip) => `skipped ${skip.strategy}: ${skip.reason}`);
}

/** Breaks text at spaces into lines of at most `width`, continuation lines indented by two. */
function wrap(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = `  ${word}`;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

export function renderTable(report: SimReport): string {
  const header = ['', ...report.runs.map(columnOf)];
  const body = rowsOf(report).map((row) => [row.label, ...report.runs.map(row.value)]);
  const widths = header.map((_, col) => Math.max(...[header, ...body].map((cells) => cells[col].length)));
  // Labels align left, numbers align right, so digits line up in each strategy's column.
  const line = (cells: string[]): string =>
    cells
      .map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [
    describeScenario(report),
    describeBackends(report),
    '',
    line(header),
    rule,
    ...body.map(line),
    ...(report.skipped?.length ? ['', ...describeSkipped(report).flatMap((text) => wrap(text))] : []),
    '',
  ].join('\n');
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

// Inside <script>, the HTML parser ends the element at the first "</script"; "<\/" means the same to JS and JSON.
function escapeForScriptElement(text: string): string {
  return text.replace(/<\//g, '<\\/');
}

function verdictClass(verdict: RunReport['verdict']): string {
  if (verdict === 'pass') return 'pass';
  return verdict === 'fail' ? 'fail' : 'unsafe';
}

function renderHtmlTable(report: SimReport): string {
  const head = report.runs.map((run) => `<th>${escapeHtml(columnOf(run))}</th>`).join('');
  const rows = rowsOf(report).map((row) => {
    const cells = report.runs
      .map((run) => {
        const value = escapeHtml(row.value(run));
        return row.label === 'verdict'
          ? `<td><span class="verdict ${verdictClass(run.verdict)}">${value}</span></td>`
          : `<td>${value}</td>`;
      })
      .join('');
    return `<tr><th scope="row">${escapeHtml(row.label)}</th>${cells}</tr>`;
  });
  return `<table><thead><tr><th></th>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

let chartJsSource: string | undefined;

// chart.js's package "exports" hide dist/chart.umd.js from require.resolve, so find it beside the main entry
// (dist/chart.cjs). Read once per process: the bundle is ~200 kB and every rendered page embeds the same copy.
function readChartJs(): string {
  chartJsSource ??= readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.js'), 'utf8');
  return chartJsSource;
}

// Runs in the browser: reads the embedded report and draws one line per strategy on each chart.
const CHART_SCRIPT = `
(function () {
  var report = JSON.parse(document.getElementById('report-data').textContent);
  var palette = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d',
    '#92400e', '#475569'];
  Chart.defaults.animation = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

  function intervalSeconds(timeline) {
    if (timeline.length > 1) return (timeline[1].tMs - timeline[0].tMs) / 1000;
    return timeline.length === 1 && timeline[0].tMs > 0 ? timeline[0].tMs / 1000 : 1;
  }

  // origin(run), when given, is the value at t = 0 (before the first sampling interval ends).
  function series(pick, dash, origin) {
    return report.runs.map(function (run, i) {
      var seconds = intervalSeconds(run.timeline);
      return {
        label: run.strategy + (dash ? ' ' + dash : ''),
        data: (origin ? [{ x: 0, y: origin(run) }] : []).concat(
          run.timeline.map(function (p) { return { x: p.tMs / 1000, y: pick(p, seconds) }; })),
        borderColor: palette[i % palette.length],
        backgroundColor: palette[i % palette.length],
        borderDash: dash === 'p99' ? [6, 4] : [],
        pointRadius: 0,
        borderWidth: 2
      };
    });
  }

  function draw(id, yTitle, datasets) {
    new Chart(document.getElementById(id), {
      type: 'line',
      data: { datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'nearest', intersect: false },
        scales: {
          x: { type: 'linear', min: 0, title: { display: true, text: 'time (s)' } },
          y: { beginAtZero: true, title: { display: true, text: yTitle } }
        },
        // Line-shaped legend swatches, so dashed p99 lines read as dashed in the legend too.
        plugins: { legend: { position: 'bottom', labels: { usePointStyle: true, pointStyle: 'line' } } }
      }
    });
  }

  draw('chart-throughput', 'requests/s', series(function (p, s) { return p.requests / s; }));
  draw('chart-latency', 'ms', series(function (p) { return p.p50Ms; }, 'p50')
    .concat(series(function (p) { return p.p99Ms; }, 'p99')));
  // --compare-admission: each unit's buyer, arrival rank against grant rank (on the diagonal: first come, first served).
  if (document.getElementById('chart-grants')) {
    new Chart(document.getElementById('chart-grants'), {
      type: 'scatter',
      data: {
        datasets: report.runs.map(function (run, i) {
          return {
            label: run.admission || run.strategy,
            data: (run.arrivalRankByGrant || []).map(function (arrival, grant) { return { x: arrival, y: grant }; }),
            borderColor: palette[i % palette.length],
            backgroundColor: palette[i % palette.length],
            pointRadius: 2
          };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { type: 'linear', min: 0, title: { display: true, text: 'arrival rank (0 = first to arrive)' } },
          y: { type: 'linear', min: 0, title: { display: true, text: 'grant rank (0 = first unit)' } }
        },
        plugins: { legend: { position: 'bottom' } }
      }
    });
  }
  draw('chart-stock', 'units', series(function (p) { return p.remainingStock; }, '',
    function (run) { return run.reconciliation.initialStock; }));
})();
`;

const STYLE = `
  body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0; background: #f6f7f9;
         color: #1f2937; }
  main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 48px; }
  h1 { font-size: 24px; margin: 0 0 4px; }
  h2 { font-size: 17px; margin: 0 0 12px; }
  .meta { color: #4b5563; margin: 2px 0; font-size: 14px; }
  .card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 16px 20px; margin-top: 20px; }
  table { border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; }
  th, td { padding: 5px 14px; border-bottom: 1px solid #eef0f3; }
  thead th { text-align: right; border-bottom: 2px solid #d1d5db; }
  tbody th { text-align: left; font-weight: 500; color: #374151; }
  td { text-align: right; }
  .verdict { padding: 2px 8px; border-radius: 10px; font-weight: 600; font-size: 13px; }
  .verdict.pass { background: #dcfce7; color: #166534; }
  .verdict.fail { background: #fee2e2; color: #991b1b; }
  .verdict.unsafe { background: #fef3c7; color: #92400e; }
  .charts { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; }
  .chart { position: relative; height: 300px; }
`;

function renderChartCard(id: string, title: string): string {
  return `<section class="card"><h2>${title}</h2><div class="chart"><canvas id="${id}"></canvas></div></section>`;
}

function renderPage(report: SimReport, chartJs: string): string {
  const title = `seckill simulator: ${report.scenario.name}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${escapeHtml(describeScenario(report))}</p>
<p class="meta">${escapeHtml(describeBackends(report))}</p>
${describeSkipped(report)
  .map((line) => `<p class="meta skipped">${escapeHtml(line)}</p>`)
  .join('\n')}
<p class="meta">generated ${escapeHtml(report.generatedAt)}</p>
<section class="card"><h2>Results</h2>${renderHtmlTable(report)}</section>
<div class="charts">
${renderChartCard('chart-throughput', 'Throughput (requests/s)')}
${renderChartCard('chart-latency', 'Latency p50 (solid) and p99 (dashed)')}
</div>
${renderChartCard('chart-stock', 'Remaining stock')}
${
  report.runs.some((run) => run.arrivalRankByGrant)
    ? renderChartCard('chart-grants', 'Who got the units: arrival rank (x) against grant rank (y), per mode')
    : ''
}
</main>
<script type="application/json" id="report-data">${escapeForScriptElement(JSON.stringify(report))}</script>
<script>${escapeForScriptElement(chartJs)}</script>
<script>${CHART_SCRIPT}</script>
</body>
</html>
`;
}

export function renderHtml(report: SimReport): string {
  return renderPage(report, readChartJs());
}

export function writeReportFiles(
  report: SimReport,
  dir: string,
): Promise<{ jsonPath: string; htmlPath: string }> {
  return writeReportPair(dir, report, renderHtml(report));
}

/** report.json (the data) and report.html (its page) into `dir`. */
export async function writeReportPair(
  dir: string,
  data: unknown,
  html: string,
): Promise<{ jsonPath: string; htmlPath: string }> {
  await mkdir(dir, { recursive: true });
  const jsonPath = join(dir, 'report.json');
  const htmlPath = join(dir, 'report.html');
  await writeFile(jsonPath, `${JSON.stringify(data, null, 2)}\n`);
  await writeFile(htmlPath, html);
  return { jsonPath, htmlPath };
}
