// Chaos mode's buyers: each one keeps asking until it gets a final answer, through busy answers, refused connections
// and paused processes (what a buyer's app would do in a real outage), so demand still exceeds stock after faults.
// The autocannon crowd of load-driver.ts counts each answer once and moves on, which is right for measuring
// throughput and wrong here. Payers pay right after their order, retrying the same way.
import { classifyAnswer } from '../load-driver';
import type { TimedAnswer } from './recovery';

const REQUEST_TIMEOUT_MS = 3000;
const RETRY_DELAY_MS = 150;

export interface BuyerPlan {
  urls: string[];
  itemId: string;
  userIds: string[];
  /** Buyers arrive spread evenly over this window. */
  arrivalWindowMs: number;
  /** Which buyers pay their order (the others let it expire). */
  pays: (userId: string) => boolean;
  /** Nobody keeps trying past this instant (epoch ms). */
  deadline: number;
}

export interface BuyerResults {
  acknowledged: { orderId: string; userId: string }[];
  soldOut: number;
  /** Buyers who never got a final answer before the deadline. */
  gaveUp: number;
  retries: number;
  /** Every purchase answer, timed (recovery.ts reads how long a fault kept buyers from ordering). */
  answers: TimedAnswer[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function post(url: string, body: unknown): Promise<{ status: number; text: string } | undefined> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return { status: res.status, text: await res.text() };
  } catch {
    return undefined; // refused, reset or timed out: try again
  }
}

export async function runBuyers(plan: BuyerPlan): Promise<BuyerResults> {
  const results: BuyerResults = { acknowledged: [], soldOut: 0, gaveUp: 0, retries: 0, answers: [] };
  const gap = plan.userIds.length ? plan.arrivalWindowMs / plan.userIds.length : 0;
  await Promise.all(
    plan.userIds.map(async (userId, i) => {
      await sleep(i * gap);
      // Each buyer starts at its own api process and moves to the next one when it gets no answer.
      for (let attempt = 0; Date.now() < plan.deadline; attempt++) {
        const url = plan.urls[(i + attempt) % plan.urls.length];
        const sentAt = Date.now();
        const res = await post(`${url}/seckill`, { userId, itemId: plan.itemId });
        const outcome = res ? classifyAnswer(res.status, res.text) : undefined;
        results.answers.push({
          sentAt,
          at: Date.now(),
          outcome: outcome?.outcome ?? 'no_answer',
          detail: outcome?.outcome === 'errors' ? `${res!.status} ${res!.text.slice(0, 160)}` : undefined,
        });
        if (outcome?.outcome === 'ordered') {
          results.acknowledged.push({ orderId: outcome.orderId!, userId });
          if (plan.pays(userId)) await pay(plan, outcome.orderId!, userId, i);
          return;
        }
        if (outcome && ['sold_out', 'duplicate', 'ended', 'not_started'].includes(outcome.outcome)) {
          if (outcome.outcome === 'sold_out') results.soldOut++;
          return;
        }
        results.retries++;
        await sleep(RETRY_DELAY_MS);
      }
      results.gaveUp++;
    }),
  );
  return results;
}

/** Pays until the service answers the payment (paid, or too late: 4xx); gives up at the deadline. */
async function pay(plan: BuyerPlan, orderId: string, userId: string, i: number): Promise<void> {
  for (let attempt = 0; Date.now() < plan.deadline; attempt++) {
    const url = plan.urls[(i + attempt) % plan.urls.length];
    const res = await post(`${url}/orders/${orderId}/pay`, { userId });
    if (res && res.status < 500) return;
    await sleep(RETRY_DELAY_MS);
  }
}
