/**
 * The functions a V8 CPU profile (.cpuprofile: `node --cpu-prof`, or the inspector's Profiler.stop) spent the most
 * self time in.
 *   tsx bench/cpu-profile-top.ts <file.cpuprofile> [n]      top n (default 12) by self time
 *
 * Self time of a node = the sum of the timeDeltas of the samples that hit it. Nodes are aggregated by function name
 * and location (one function reached along many call paths is one row). Percentages are of the busy time: the
 * profiler's "(idle)" node (the event loop waiting) is left out of the total, "(program)" and "(garbage collector)"
 * stay in it because they are CPU the process spent.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  /** 0-based, as V8 reports it. */
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  timeDeltas?: number[];
}

export interface TopFunction {
  /** "name (path:line)", the path shortened to what follows node_modules/ or src/. */
  name: string;
  selfMs: number;
  /** Share of the busy time (everything but "(idle)"), 0..1. */
  share: number;
}

export interface ProfileSummary {
  /** Wall time the profile covers. */
  durationMs: number;
  /** Sampled time that was not "(idle)". */
  busyMs: number;
  top: TopFunction[];
}

const IDLE = '(idle)';

/** Keeps the part of a URL that names the package or the source file: after the last node_modules/, else src/. */
export function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('node_modules/');
  if (modules >= 0) return path.slice(modules + 'node_modules/'.length);
  const src = path.lastIndexOf('/src/');
  if (src >= 0) return path.slice(src + '/src/'.length);
  return path;
}

function frameName({ functionName, url, lineNumber }: CallFrame): string {
  const name = functionName || '(anonymous)';
  return url ? `${name} (${shortUrl(url)}:${lineNumber + 1})` : name;
}

/** Self time per node id, in microseconds. */
function selfTimeByNode(profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // A delta is the time before its sample; V8's own tools attribute it to that sample's node, as here.
  samples.forEach((node, i) => self.set(node, (self.get(node) ?? 0) + (deltas[i] ?? 0)));
  return self;
}

export function summarizeProfile(profile: CpuProfile, n = 12): ProfileSummary {
  const selfByNode = selfTimeByNode(profile);
  const byFunction = new Map<string, number>();
  let busyUs = 0;
  for (const node of profile.nodes) {
    const selfUs = selfByNode.get(node.id) ?? 0;
    if (!selfUs || node.callFrame.functionName === IDLE) continue;
    busyUs += selfUs;
    const name = frameName(node.callFrame);
    byFunction.set(name, (byFunction.get(name) ?? 0) + selfUs);
  }
  const top = [...byFunction.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, selfMs: us / 1000, share: busyUs ? us / busyUs : 0 }));
  return { durationMs: (profile.endTime - profile.startTime) / 1000, busyMs: busyUs / 1000, top };
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

/** The summary as text lines: a heading, then one line per function. */
export function formatSummary(label: string, summary: ProfileSummary): string[] {
  const heading =
    `${label}: ${(summary.busyMs / 1000).toFixed(2)} s busy of ${(summary.durationMs / 1000).toFixed(1)} s ` +
    'profiled (self time, % of busy)';
  const rows = summary.top.map(
    (fn) =>
      `  ${(fn.share * 100).toFixed(1).padStart(5)} %  ${fn.selfMs.toFixed(0).padStart(7)} ms  ${fn.name}`,
  );
  return [heading, ...rows];
}

function cli(argv: string[]): void {
  const [file, count] = argv;
  if (!file) {
    console.error('usage: tsx bench/cpu-profile-top.ts <file.cpuprofile> [n]');
    process.exit(2);
  }
  const n = count === undefined ? 12 : Number(count);
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be an integer >= 1, got "${count}"`);
  console.log(formatSummary(file, summarizeProfile(readProfile(file), n)).join('\n'));
}

if (require.main === module) cli(process.argv.slice(2));
