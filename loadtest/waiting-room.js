// waiting-room: USERS visitors queue in a sale's waiting room (fifo by default) and buy only with the pass it hands
// out. Each visitor joins (POST /sales/:itemId/waiting-room), polls its status every POLL_MS with its ticket in
// `Waiting-Room-Ticket` until it is admitted, told sold out or gives up after MAX_WAIT_S, then buys with the pass
// (POST /seckill with `pass`), trying again while the answer is busy. The room lets RATE visitors in per second, so
// the crowd waits and polls: the status answers' latency is a threshold of its own.
// Simulator twin: npm run sim -- --scenario waiting-room (test/purchase/waiting-room.test.ts runs such visitors
// against real processes too).
import { sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';

import {
  assertReconciled,
  BASE_URL,
  buy,
  buyerHeaders,
  commonThresholds,
  envInt,
  outcomes,
  setupSale,
  summaryHandler,
  summaryTrendStats,
} from './lib.js';

const STOCK = envInt('STOCK', 100);
const SEGMENTS = envInt('SEGMENTS', 8);
const USERS = envInt('USERS', 300);
const ROOM_MODE = __ENV.ROOM_MODE || 'fifo';
const RATE = envInt('RATE', 50);
const MAX_UNFINISHED = envInt('MAX_UNFINISHED', 0);
const POLL_MS = envInt('POLL_MS', 1000);
const MAX_WAIT_S = envInt('MAX_WAIT_S', 120);
const BUSY_RETRIES = envInt('BUSY_RETRIES', 5);
const EXPECTED_ORDERS = Math.min(STOCK, USERS);

// Request names (the `name` tag): the thresholds below pick the status polls and the purchases by them.
export const JOIN = 'POST /sales/:itemId/waiting-room';
export const STATUS = 'GET /sales/:itemId/waiting-room';
export const PURCHASE = 'POST /seckill';

// What became of each visitor in the room (the purchase's answers are lib.js's outcomes: orders, sold_out, ...).
export const room = {
  room_admitted: new Counter('room_admitted'),
  room_sold_out: new Counter('room_sold_out'),
  room_expired: new Counter('room_expired'),
  room_gave_up: new Counter('room_gave_up'),
  room_polls: new Counter('room_polls'),
  // 5xx answers to a join or a status poll (the purchase's are in `errors`, 503 busy aside).
  server_errors: new Counter('server_errors'),
};
// From joining to the status that carried the pass.
const roomWait = new Trend('room_wait', true);

const roomThresholds = {
  orders: [`count==${EXPECTED_ORDERS}`],
  server_errors: ['count==0'],
  room_gave_up: ['count==0'],
};
roomThresholds[`http_req_duration{name:${STATUS}}`] = [`p(95)<${envInt('STATUS_P95_MS', 200)}`];
roomThresholds[`http_req_duration{name:${PURCHASE}}`] = [`p(95)<${envInt('PURCHASE_P95_MS', 500)}`];

export const options = {
  scenarios: {
    'waiting-room': {
      executor: 'per-vu-iterations',
      exec: 'visit',
      vus: USERS,
      iterations: 1,
      maxDuration: __ENV.MAX_DURATION || '3m',
    },
  },
  thresholds: Object.assign(commonThresholds(), roomThresholds),
  summaryTrendStats,
};

export function setup() {
  const admission = { mode: ROOM_MODE, ratePerSec: RATE };
  if (MAX_UNFINISHED > 0) admission.maxUnfinished = MAX_UNFINISHED;
  return setupSale('waiting-room', { stock: STOCK, segments: SEGMENTS, admission });
}

function roomUrl(itemId) {
  return `${BASE_URL}/sales/${encodeURIComponent(itemId)}/waiting-room`;
}

// A join's or a poll's answer: its body on 200; anything else is counted (errors, and server_errors for a 5xx) and
// ends the visit (null).
function roomAnswer(res) {
  let body = null;
  try {
    body = res.json();
  } catch (_unreadable) {
    body = null;
  }
  if (res.status === 200 && body && typeof body.state === 'string') return body;
  outcomes.errors.add(1);
  if (res.status >= 500) room.server_errors.add(1);
  return null;
}

export function join(itemId, userId) {
  const res = http.post(roomUrl(itemId), JSON.stringify({ userId }), {
    headers: buyerHeaders(userId),
    tags: { name: JOIN },
    // 200 is the room's answer; the purchase's callback (lib.js) would count it as failed.
    responseCallback: http.expectedStatuses(200),
  });
  return roomAnswer(res);
}

export function poll(itemId, ticket) {
  room.room_polls.add(1);
  const res = http.get(roomUrl(itemId), {
    headers: { 'Waiting-Room-Ticket': ticket },
    tags: { name: STATUS },
    responseCallback: http.expectedStatuses(200),
  });
  return roomAnswer(res);
}

// One VU is one visitor: join, wait, buy once admitted.
export function visit(data) {
  const userId = `${data.runId}-room-${exec.vu.idInTest}`;
  const joinedAt = Date.now();
  let status = join(data.itemId, userId);
  if (!status) return;
  const ticket = status.ticket;
  const deadline = joinedAt + MAX_WAIT_S * 1000;
  while (status.state === 'waiting' || status.state === 'not_started') {
    if (Date.now() >= deadline) {
      room.room_gave_up.add(1);
      return;
    }
    sleep(POLL_MS / 1000);
    status = poll(data.itemId, ticket);
    if (!status) return;
  }
  if (status.state === 'sold_out') {
    room.room_sold_out.add(1);
    return;
  }
  if (status.state !== 'admitted' || !status.pass) {
    // expired: admitted while this visitor slept longer than the pass lives (POLL_MS too long for the room).
    room.room_expired.add(1);
    return;
  }
  room.room_admitted.add(1);
  roomWait.add(Date.now() - joinedAt);
  // busy gives the pass back: the same pass buys again.
  for (let attempt = 0; attempt <= BUSY_RETRIES; attempt++) {
    if (buy(userId, data.itemId, status.pass) !== 'busy') return;
    sleep(0.2);
  }
}

export default visit;

export function teardown(data) {
  assertReconciled(data, (item) =>
    item.activeOrders + item.cancelledOrders === Math.min(item.initialStock, USERS)
      ? null
      : `orders=${item.activeOrders + item.cancelledOrders}, expected min(stock ${item.initialStock}, users ${USERS})`,
  );
}

function roomLines(data, metricValue) {
  const counts = Object.keys(room).map((metric) => `${metric}=${metricValue(data, metric, 'count')}`);
  const ms = (metric, stat) => `${metricValue(data, metric, stat).toFixed(1)} ms`;
  const status = `http_req_duration{name:${STATUS}}`;
  return [
    `  room: ${counts.join(' ')}`,
    `  status polls: p95 ${ms(status, 'p(95)')}  p99 ${ms(status, 'p(99)')}; ` +
      `wait for a pass: p50 ${ms('room_wait', 'med')}  max ${ms('room_wait', 'max')}`,
  ];
}

export const handleSummary = summaryHandler('waiting-room', roomLines);
