// Shared pieces of the k6 scenarios: where the server is, how a sale is created, how one purchase is classified,
// and the reconciliation check that turns an oversold or undersold sale into a failed run.
// Syntax: ES2017 at most (no object spread, optional chaining, `??` or optional catch binding), because older k6
// releases refuse newer syntax; test/loadtest/es2017.test.ts parses every script to keep it so.
import { fail, sleep } from 'k6';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import http from 'k6/http';
import { Counter } from 'k6/metrics';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');
export const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || '';
// Set when the server runs with BUYER_AUTH=token (the same secret): each buyer then sends a token it minted.
export const BUYER_TOKEN_SECRET = __ENV.BUYER_TOKEN_SECRET || '';
// Set when the server has OBSERVER_TOKEN: the teardown's GET /stats needs it.
const OBSERVER_TOKEN = __ENV.OBSERVER_TOKEN || '';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

// Every answer the contract allows for POST /seckill is "expected": only 5xx other than 503, 400s and network
// errors count in http_req_failed.
http.setResponseCallback(http.expectedStatuses(201, 409, 410, 429, 503));

export const outcomes = {
  orders: new Counter('orders'),
  sold_out: new Counter('sold_out'),
  duplicates: new Counter('duplicates'),
  rate_limited: new Counter('rate_limited'),
  busy: new Counter('busy'),
  sale_closed: new Counter('sale_closed'),
  errors: new Counter('errors'),
};

export function envInt(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

// Latency limits are knobs because a laptop, a CI runner and a tuned server disagree about what is fast.
// Merged into each script's thresholds with Object.assign (object spread is newer than ES2017).
export function commonThresholds() {
  return {
    http_req_failed: ['rate<0.01'],
    http_req_duration: [`p(95)<${envInt('P95_MS', 500)}`, `p(99)<${envInt('P99_MS', 1000)}`],
    errors: ['count==0'],
  };
}

// p(99) is not among k6's default summary statistics; handleSummary needs it.
export const summaryTrendStats = ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)'];

function parseJson(res) {
  try {
    return res.json();
  } catch (_unreadable) {
    return null;
  }
}

// admission (optional): the sale's waiting room, as POST /admin/sales takes it ({mode, ratePerSec, ...}).
function createSale(name, stock, segments, admission) {
  if (!ADMIN_TOKEN)
    fail('ADMIN_TOKEN is not set: pass the token the server printed at start (or set ITEM_ID)');
  const sale = { name, stock, segments };
  if (admission) sale.admission = admission;
  const res = http.post(`${BASE_URL}/admin/sales`, JSON.stringify(sale), {
    headers: Object.assign({}, JSON_HEADERS, { Authorization: `Bearer ${ADMIN_TOKEN}` }),
    tags: { name: 'POST /admin/sales' },
  });
  const body = parseJson(res);
  if (res.status !== 201 || !body || !body.itemId)
    fail(`creating the sale failed: ${res.status} ${res.body}`);
  return { itemId: String(body.itemId), stock: body.stock };
}

// Runs once before the load. The run id prefixes user ids so that re-running against the same ITEM_ID does not
// turn every purchase into a duplicate; it is made here because init code runs once per VU, each with its own clock.
export function setupSale(name, { stock, segments, admission }) {
  const runId = Date.now().toString(36);
  if (__ENV.ITEM_ID) return { itemId: __ENV.ITEM_ID, stock, runId };
  return Object.assign(createSale(`${name}-${runId}`, stock, segments, admission), { runId });
}

// An HS256 JWT for the buyer, signed with BUYER_TOKEN_SECRET: {sub: userId, iat, exp}. ES2017 on purpose (no
// spread, no optional chaining), like the rest of what k6 versions before 0.52 must parse.
export function buyerToken(userId, nowSec) {
  const now = nowSec === undefined ? Math.floor(Date.now() / 1000) : nowSec;
  const part = (value) => encoding.b64encode(JSON.stringify(value), 'rawurl');
  const unsigned =
    part({ alg: 'HS256', typ: 'JWT' }) + '.' + part({ sub: userId, iat: now, exp: now + 3600 });
  return unsigned + '.' + crypto.hmac('sha256', BUYER_TOKEN_SECRET, unsigned, 'base64rawurl');
}

// Minted once per user per VU: a token lives an hour, longer than any of these runs. The same headers go with a
// waiting room's join (which also acts for the buyer).
const buyerTokens = {};
export function buyerHeaders(userId) {
  if (!BUYER_TOKEN_SECRET) return JSON_HEADERS;
  if (!buyerTokens[userId]) buyerTokens[userId] = buyerToken(userId);
  return Object.assign({}, JSON_HEADERS, { Authorization: 'Bearer ' + buyerTokens[userId] });
}

function classify(res) {
  const body = parseJson(res);
  const status = body ? body.status : undefined;
  if (res.status === 201) return 'orders';
  if (res.status === 410) return 'sold_out';
  if (res.status === 429) return 'rate_limited';
  if (res.status === 503) return 'busy';
  if (res.status === 409 && status === 'duplicate') return 'duplicates';
  if (res.status === 409 && (status === 'not_started' || status === 'ended')) return 'sale_closed';
  return 'errors';
}

// pass (optional): the admission pass a sale's waiting room handed out (waiting-room.js).
export function buy(userId, itemId, pass) {
  const purchase = { userId, itemId };
  if (pass !== undefined) purchase.pass = pass;
  const res = http.post(`${BASE_URL}/seckill`, JSON.stringify(purchase), {
    headers: buyerHeaders(userId),
    tags: { name: 'POST /seckill' },
  });
  const outcome = classify(res);
  outcomes[outcome].add(1);
  return outcome;
}

export function fetchItemStats(itemId) {
  const headers = OBSERVER_TOKEN ? { Authorization: 'Bearer ' + OBSERVER_TOKEN } : {};
  // 200 is this request's expected answer; the global callback (the purchase's answers) would count it as failed.
  const res = http.get(`${BASE_URL}/stats`, {
    headers,
    tags: { name: 'GET /stats' },
    responseCallback: http.expectedStatuses(200),
  });
  const body = parseJson(res);
  if (res.status !== 200 || !body || !Array.isArray(body.items)) fail(`GET /stats failed: ${res.status}`);
  const item = body.items.find((candidate) => String(candidate.itemId) === String(itemId));
  if (!item) fail(`GET /stats has no item ${itemId}`);
  return item;
}

// The sale is judged only once the pipeline has drained: until the outbox relay and the inventory consumer have
// caught up, dbDrift (and undersell, defined at quiescence) describe work in flight, not a fault. Polls /stats
// until outboxPending and consumerLag are both 0; fails the run when that takes longer than DRAIN_TIMEOUT_S.
export function waitForDrain(itemId) {
  const timeoutMs = envInt('DRAIN_TIMEOUT_S', 60) * 1000;
  const deadline = Date.now() + timeoutMs;
  let item = fetchItemStats(itemId);
  let announced = false;
  while (item.outboxPending !== 0 || item.consumerLag !== 0) {
    if (Date.now() >= deadline)
      fail(
        `item ${itemId} did not drain within ${timeoutMs / 1000} s (outboxPending=${item.outboxPending}, ` +
          `consumerLag=${item.consumerLag}): the sale cannot be judged`,
      );
    if (!announced)
      console.log(
        `waiting for item ${itemId} to drain: outboxPending=${item.outboxPending}, consumerLag=${item.consumerLag}`,
      );
    announced = true;
    sleep(0.5);
    item = fetchItemStats(itemId);
  }
  return item;
}

// Runs once after the load. A failure here makes k6 exit non-zero, whatever the thresholds said: a sale that
// oversold, leaked units or whose database stock disagrees with its orders is broken however fast it was.
// extraCheck(item) returns a message for a further failure.
export function assertReconciled(data, extraCheck) {
  const item = waitForDrain(data.itemId);
  const problems = [];
  if (item.oversell !== 0) problems.push(`oversell=${item.oversell}`);
  if (item.undersell !== 0) problems.push(`undersell=${item.undersell}`);
  if (item.dbDrift !== 0) problems.push(`dbDrift=${item.dbDrift}`);
  const extra = extraCheck ? extraCheck(item) : null;
  if (extra) problems.push(extra);
  if (problems.length > 0) fail(`item ${data.itemId} does not reconcile: ${problems.join(', ')}`);
  console.log(`item ${data.itemId} reconciles: ${JSON.stringify(item)}`);
  return item;
}

function metricValue(data, metric, stat) {
  const entry = data.metrics[metric];
  return entry && entry.values[stat] !== undefined ? entry.values[stat] : 0;
}

function thresholdLines(data) {
  const lines = [];
  for (const [metric, entry] of Object.entries(data.metrics)) {
    for (const [expression, result] of Object.entries(entry.thresholds || {})) {
      lines.push(`  ${result.ok ? 'ok  ' : 'FAIL'} ${metric} ${expression}`);
    }
  }
  return lines;
}

// extraLines(data, metricValue): a script's own lines (waiting-room.js: the room's counters), after the outcomes.
export function textSummary(name, data, extraLines) {
  const ms = (stat) => `${metricValue(data, 'http_req_duration', stat).toFixed(1)} ms`;
  const counts = Object.keys(outcomes).map((metric) => `${metric}=${metricValue(data, metric, 'count')}`);
  const extra = extraLines ? extraLines(data, metricValue) : [];
  return [
    `seckill k6 scenario: ${name}`,
    `  requests: ${metricValue(data, 'http_reqs', 'count')} (${metricValue(data, 'http_reqs', 'rate').toFixed(1)}/s)`,
    `  latency: p50 ${ms('med')}  p95 ${ms('p(95)')}  p99 ${ms('p(99)')}  max ${ms('max')}`,
    `  failed requests: ${(metricValue(data, 'http_req_failed', 'rate') * 100).toFixed(2)}%`,
    `  outcomes: ${counts.join(' ')}`,
    ...extra,
    'thresholds:',
    ...thresholdLines(data),
    '',
  ].join('\n');
}

// Both outputs avoid the remote jslib textSummary so the scripts run offline.
export function summaryHandler(name, extraLines) {
  return (data) => ({
    stdout: textSummary(name, data, extraLines),
    [`summary-${name}.json`]: JSON.stringify(data, null, 2),
  });
}
