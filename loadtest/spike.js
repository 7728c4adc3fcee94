// spike: a flash sale opens and traffic jumps from nothing to PEAK_RATE purchases per second on one hot item.
// Every iteration is a different user, so the only legitimate refusals are sold_out (and busy under overload).
// Simulator twin: npm run sim -- --scenario spike
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
const PEAK_RATE = envInt('PEAK_RATE', 2000);

export const options = {
  scenarios: {
    spike: {
      executor: 'ramping-arrival-rate',
      exec: 'spike',
      startRate: 0,
      timeUnit: '1s',
      preAllocatedVUs: envInt('VUS', 200),
      maxVUs: envInt('MAX_VUS', 1000),
      stages: [
        { target: PEAK_RATE, duration: __ENV.RAMP || '5s' },
        { target: PEAK_RATE, duration: __ENV.HOLD || '10s' },
        { target: 0, duration: '2s' },
      ],
    },
  },
  thresholds: Object.assign(commonThresholds(), {
    // A spike on a hot item must sell out: fewer orders than stock means units were lost or refused wrongly.
    // (More is legitimate only when payment timeouts put units back on sale; teardown judges oversell.)
    orders: [`count>=${STOCK}`],
  }),
  summaryTrendStats,
};

export function setup() {
  return setupSale('spike', { stock: STOCK, segments: SEGMENTS });
}

export function spike(data) {
  buy(`${data.runId}-spike-${exec.scenario.iterationInTest}`, data.itemId);
}

export default spike;

export function teardown(data) {
  assertReconciled(data);
}

export const handleSummary = summaryHandler('spike');
