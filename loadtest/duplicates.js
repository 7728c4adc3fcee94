// duplicates: a few users hammer the same item again and again. The server must answer the repeats with duplicate
// (or rate_limited) and still give each user exactly one order.
// Simulator twin: npm run sim -- --scenario duplicates
import exec from 'k6/execution';

import {
  assertReconciled,
  buy,
  commonThresholds,
  envInt,
  setupSale,
  summaryHandler,
  summaryTrendStats,
} from './lib.js';

const STOCK = envInt('STOCK', 100);
const SEGMENTS = envInt('SEGMENTS', 8);
const USERS = envInt('USERS', 5);
const ATTEMPTS = envInt('ATTEMPTS', 50);

export const options = {
  scenarios: {
    duplicates: {
      executor: 'per-vu-iterations',
      exec: 'duplicates',
      vus: USERS,
      iterations: ATTEMPTS,
      maxDuration: __ENV.MAX_DURATION || '1m',
    },
  },
  thresholds: Object.assign(commonThresholds(), {
    orders: [`count==${Math.min(STOCK, USERS)}`],
    duplicates: ['count>0'],
  }),
  summaryTrendStats,
};

export function setup() {
  return setupSale('duplicates', { stock: STOCK, segments: SEGMENTS });
}

// The user id depends only on the VU, so every iteration after a user's first is a repeat.
export function duplicates(data) {
  buy(`${data.runId}-dup-${exec.vu.idInTest}`, data.itemId);
}

export default duplicates;

export function teardown(data) {
  // oversell already counts users holding more than one active order; this also catches missing ones.
  assertReconciled(data, (item) =>
    item.activeOrders === Math.min(item.initialStock, USERS)
      ? null
      : `activeOrders=${item.activeOrders}, expected one per user (${Math.min(item.initialStock, USERS)})`,
  );
}

export const handleSummary = summaryHandler('duplicates');
