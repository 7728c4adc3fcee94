// fairness: USERS distinct users each try exactly once. With no retries and no duplicates, every unit must go to
// a different user and orders must equal min(stock, users): nobody is refused while stock remains.
// Simulator twin: npm run sim -- --scenario fairness
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
const USERS = envInt('USERS', 300);
const EXPECTED_ORDERS = Math.min(STOCK, USERS);

export const options = {
  scenarios: {
    fairness: {
      executor: 'per-vu-iterations',
      exec: 'fairness',
      vus: USERS,
      iterations: 1,
      maxDuration: __ENV.MAX_DURATION || '1m',
    },
  },
  thresholds: Object.assign(commonThresholds(), {
    orders: [`count==${EXPECTED_ORDERS}`],
    // Every user asked once, so a duplicate answer would mean the server confused two users.
    duplicates: ['count==0'],
  }),
  summaryTrendStats,
};

export function setup() {
  return setupSale('fairness', { stock: STOCK, segments: SEGMENTS });
}

// One VU is one user and makes one attempt.
export function fairness(data) {
  buy(`${data.runId}-fair-${exec.vu.idInTest}`, data.itemId);
}

export default fairness;

export function teardown(data) {
  assertReconciled(data, (item) =>
    item.activeOrders + item.cancelledOrders === Math.min(item.initialStock, USERS)
      ? null
      : `orders=${item.activeOrders + item.cancelledOrders}, expected min(stock ${item.initialStock}, users ${USERS})`,
  );
}

export const handleSummary = summaryHandler('fairness');
