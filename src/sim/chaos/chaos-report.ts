// The chaos report three ways: the fault matrix as a terminal table, as an HTML page, and report.json.
import { escapeHtml, writeReportPair } from '../report';
import type { ChaosCell, ChaosFaultRun, ChaosReport } from '../report-types';

/** "pass 3", "FAIL 1/4", "not run", "n/a": runs that injected the fault, and how many failed. */
function cellText(cell: ChaosCell): string {
  if (cell.status === 'pass') return `pass ${cell.runs}`;
  if (cell.status === 'fail') return `FAIL ${cell.failedRuns}/${cell.runs}`;
  return cell.status;
}

function cellOf(report: ChaosReport, strategy: string, fault: string): ChaosCell {
  return report.matrix.find((cell) => cell.strategy === strategy && cell.fault === fault)!;
}

function strategiesOf(report: ChaosReport): string[] {
  return report.summary.map((row) => row.strategy);
}

/** The command that replays one run exactly. */
export function replayCommand(report: ChaosReport, strategy: string, seed: number): string {
  const s = report.scenario;
  return (
    `npm run sim -- --chaos --strategy ${strategy} --seed ${seed} --stock ${s.stock} --segments ${s.segments} ` +
    `--users ${s.users} --pay-ratio ${s.payRatio} --payment-timeout-ms ${s.paymentTimeoutMs} ` +
    `--chaos-window-ms ${s.windowMs} --faults-per-run ${s.faultsPerRun} --apis ${s.apis} --faults ${report.faults.join(',')}` +
    (s.postgresHa ? ` --postgres-ha ${s.postgresHa}` : '')
  );
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function recoveryText(recovery: ChaosFaultRun['recovery']): string {
  if (!recovery) return 'not injected';
  const first =
    recovery.firstOrderAfterMs === undefined
      ? 'no order after it'
      : `first order after ${formatSeconds(recovery.firstOrderAfterMs)}`;
  const told = Object.entries(recovery.answersAfter)
    .filter(([outcome]) => outcome !== 'busy')
    .map(([outcome, n]) => `${n} ${outcome}`);
  return `${first}, ${recovery.busyAnswers} busy${told.length ? ` (asked after it: ${told.join(', ')})` : ''}`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((cells) => cells[col].length)));
  return rows.map((cells) =>
    cells
      .map((cell, col) => cell.padEnd(widths[col]))
      .join('  ')
      .trimEnd(),
  );
}

export function renderChaosTable(report: ChaosReport): string {
  const strategies = strategiesOf(report);
  const s = report.scenario;
  const matrix = table([
    ['fault', ...strategies],
    ...report.faults.map((fault) => [fault, ...strategies.map((st) => cellText(cellOf(report, st, fault)))]),
  ]);
  const summary = table([
    [
      'strategy',
      'runs',
      'faults injected',
      'violations',
      'acknowledged lost',
      'first failing seed',
      'run time',
    ],
    ...report.summary.map((row) => [
      `${row.strategy}${row.expectedSafe ? '' : ' (unsafe by design)'}`,
      String(row.runs),
      String(row.faultsInjected),
      String(row.violations),
      String(row.acknowledgedLost),
      row.firstFailingSeed === null ? '-' : String(row.firstFailingSeed),
      formatSeconds(row.durationMs),
    ]),
  ]);
  // On a Patroni cluster the question is how long a failover kept buyers from ordering, run by run.
  const recoveries = s.postgresHa
    ? report.runs.flatMap((run) =>
        run.faults.map(
          (f) =>
            `  ${run.strategy} seed ${run.seed} ${f.fault}: ${recoveryText(f.recovery)}; ` +
            `acknowledged lost ${run.acknowledgedLost}, error answers ${run.errorAnswers}` +
            `${run.errorSamples.length ? ` (${run.errorSamples.join(' | ')})` : ''}, crashes ${run.crashes}`,
        ),
      )
    : [];
  const failures = report.runs
    .filter((run) => run.violations.length)
    .map(
      (run) =>
        `  ${run.strategy} seed ${run.seed} [${run.faults.map((f) => f.fault).join(', ')}]: ${run.violations.join('; ')}`,
    );
  const firstFailure = report.runs.find((run) => run.violations.length);
  return [
    `chaos: ${s.runsPerStrategy} run(s) per strategy from seed ${s.firstSeed}, ${s.faultsPerRun} fault(s) per run; ` +
      `sale of ${s.stock} units to ${s.users} buyers over ${s.windowMs} ms, ${s.apis} api process(es)`,
    `backends: redis ${report.backends.redis}; postgres ${report.backends.postgres}; kafka ${report.backends.kafka}`,
    '',
    ...matrix,
    '',
    ...summary,
    ...(recoveries.length
      ? ['', 'after each fault (first order, busy answers until then):', ...recoveries]
      : []),
    ...(failures.length ? ['', 'failing runs:', ...failures] : []),
    ...(firstFailure
      ? ['', `replay: ${replayCommand(report, firstFailure.strategy, firstFailure.seed)}`]
      : []),
    ...(report.skipped?.length
      ? ['', ...report.skipped.map((skip) => `${skip.strategy} skipped: ${skip.reason}`)]
      : []),
    '',
  ].join('\n');
}

function htmlCell(report: ChaosReport, cell: ChaosCell): string {
  const title =
    cell.status === 'n/a'
      ? (cell.reason ?? '')
      : cell.failures.map((f) => `seed ${f.seed}: ${f.violations.join('; ')}`).join('\n');
  const details = cell.failures
    .map(
      (f) =>
        `<div class="failure">seed ${f.seed}: ${escapeHtml(f.violations.join('; '))}<br><code>${escapeHtml(replayCommand(report, cell.strategy, f.seed))}</code></div>`,
    )
    .join('');
  return `<td class="${cell.status.replace(/[^a-z]/g, '')}" title="${escapeHtml(title)}">${escapeHtml(cellText(cell))}${details}</td>`;
}

export function renderChaosHtml(report: ChaosReport): string {
  const strategies = strategiesOf(report);
  const head = strategies.map((st) => `<th>${escapeHtml(st)}</th>`).join('');
  const rows = report.faults
    .map(
      (fault) =>
        `<tr><th scope="row">${escapeHtml(fault)}</th>${strategies.map((st) => htmlCell(report, cellOf(report, st, fault))).join('')}</tr>`,
    )
    .join('');
  const summary = report.summary
    .map(
      (row) =>
        `<tr><th scope="row">${escapeHtml(row.strategy)}</th><td>${row.runs}</td><td>${row.faultsInjected}</td>` +
        `<td>${row.violations}</td><td>${row.acknowledgedLost}</td><td>${row.firstFailingSeed ?? '-'}</td><td>${formatSeconds(row.durationMs)}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>seckill chaos report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
td.pass { background: #e6f4ea; } td.fail { background: #fce8e6; } td.notrun, td.na { color: #888; }
.failure { font-size: .8rem; margin-top: .3rem; } code { font-size: .75rem; }
</style>
</head>
<body>
<h1>Chaos: which faults each strategy survives</h1>
<p>${escapeHtml(renderChaosTable(report).split('\n').slice(0, 2).join(' · '))}</p>
<h2>Fault matrix</h2>
<p>Each cell: the runs that injected the fault, and how many of them failed a check (a failing run marks every fault
it injected). Hover a cell for its failures; n/a cells say why the fault cannot be injected.</p>
<table><thead><tr><th>fault</th>${head}</tr></thead><tbody>${rows}</tbody></table>
<h2>Summary</h2>
<table><thead><tr><th>strategy</th><th>runs</th><th>faults injected</th><th>violations</th><th>acknowledged lost</th><th>first failing seed</th><th>run time</th></tr></thead>
<tbody>${summary}</tbody></table>
</body>
</html>
`;
}

export function writeChaosReportFiles(report: ChaosReport, dir: string) {
  return writeReportPair(dir, report, renderChaosHtml(report));
}
