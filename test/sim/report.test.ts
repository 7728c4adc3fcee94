import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { renderHtml, renderTable, writeReportFiles } from '../../src/sim/report';
import { sampleReport } from './sample-report';

function embeddedJson(html: string): unknown {
  const match = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  if (!match) throw new Error('no embedded report data');
  return JSON.parse(match[1]);
}

describe('renderTable', () => {
  const table = renderTable(sampleReport());
  const lines = table.split('\n');
  const row = (label: string): string => lines.find((l) => l.startsWith(label)) ?? '';

  it('names the scenario and the backends', () => {
    expect(lines[0]).toContain('scenario spike');
    expect(lines[0]).toContain('stock 100 in 8 segments');
    expect(lines[1]).toContain('embedded broker 127.0.0.1:40123');
    expect(lines[1]).toContain('PGlite (embedded, one transaction at a time)');
  });

  it('puts each strategy in its own column with its own numbers', () => {
    expect(table).toMatch(/segmented-lock\s+naive/);
    expect(row('ordered')).toMatch(/ordered\s+100\s+137$/);
    expect(row('oversell')).toMatch(/oversell\s+0\s+37$/);
    expect(row('dbDrift')).toMatch(/dbDrift\s+0\s+-4$/);
    expect(row('errors')).toMatch(/errors\s+0\s+5$/);
    expect(row('rate (req/s)')).toMatch(/2000\.0\s+2743\.6$/);
    expect(row('latency p99')).toMatch(/24\.9 ms\s+17\.8 ms$/);
    expect(row('time to sell out')).toMatch(/640 ms\s+-$/);
    expect(row('time to drain')).toMatch(/1\.50 s\s+2\.25 s$/);
    expect(row('verdict')).toMatch(/pass\s+unsafe \(expected\)$/);
  });

  it('fits in 100 columns', () => {
    for (const line of lines.slice(2)) expect(line.length).toBeLessThanOrEqual(100);
  });
});

describe('the lock strategies in the table', () => {
  const report = sampleReport();
  report.runs[0] = { ...report.runs[0], strategy: 'lua' };
  report.runs.push({ ...report.runs[0], strategy: 'etcd-lock', timeToSellOutMs: 1600 });
  report.skipped = [
    {
      strategy: 'zk-lock',
      reason:
        'no ZooKeeper: ZOOKEEPER_CONNECT is unset and /usr/share/java/zookeeper.jar or java is missing (Debian: apt-get install -y zookeeper)',
    },
  ];
  const table = renderTable(report);
  const lines = table.split('\n');

  it('gives every sell-out time as a ratio to lua', () => {
    expect(lines.find((l) => l.startsWith('sell-out vs lua'))).toMatch(/1\.00×\s+-\s+2\.50×$/);
  });

  it('says which strategies were skipped and how to get their servers, within 100 columns', () => {
    expect(table).toContain('skipped zk-lock: no ZooKeeper');
    expect(table).toContain('apt-get install -y zookeeper');
    for (const line of lines.slice(2)) expect(line.length).toBeLessThanOrEqual(100);
    expect(renderHtml(report)).toContain('skipped zk-lock: no ZooKeeper');
  });
});

describe('renderHtml', () => {
  const report = sampleReport();
  const html = renderHtml(report);

  it('embeds the report as JSON that parses back to the same report', () => {
    expect(embeddedJson(html)).toEqual(report);
  });

  it('keeps a "</script" inside report text from closing the data element', () => {
    const tricky = { ...report, scenario: { ...report.scenario, name: '</script><b>x' } };
    const trickyHtml = renderHtml(tricky);
    expect(embeddedJson(trickyHtml)).toEqual(tricky);
    expect(trickyHtml).toContain('&lt;/script&gt;&lt;b&gt;x');
  });

  it('has the three chart canvases and the results table', () => {
    for (const id of ['chart-throughput', 'chart-latency', 'chart-stock']) {
      expect(html).toContain(`<canvas id="${id}"></canvas>`);
    }
    expect(html).toContain('<th>naive</th>');
    expect(html).toContain('<td>137</td>');
  });

  it('inlines Chart.js instead of loading anything from the network', () => {
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/src=["']https?:\/\//i);
    expect(html).toContain('Chart.js v4');
  });
});

describe('writeReportFiles', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seckill-report-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes report.json and report.html, creating the folder', async () => {
    const report = sampleReport();
    const paths = await writeReportFiles(report, join(dir, 'nested', 'out'));
    expect(paths.jsonPath).toBe(join(dir, 'nested', 'out', 'report.json'));
    expect(JSON.parse(await readFile(paths.jsonPath, 'utf8'))).toEqual(report);
    expect(embeddedJson(await readFile(paths.htmlPath, 'utf8'))).toEqual(report);
  });
});
