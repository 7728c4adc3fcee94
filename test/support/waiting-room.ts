// Visitors of a sale's waiting room, for the tests: join, poll, buy with the pass, over one or several api addresses
// (a visitor whose process died asks the next one, as a load balancer would send it).
import type { Redis } from 'ioredis';

export interface Answer {
  status: number;
  body: any;
}

async function call(url: string, path: string, init: RequestInit): Promise<Answer> {
  const res = await fetch(url + path, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export const joinRoom = (url: string, itemId: string, userId: string) =>
  call(url, `/sales/${itemId}/waiting-room`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });

export const roomStatus = (url: string, itemId: string, ticket: string) =>
  call(url, `/sales/${itemId}/waiting-room`, { headers: { 'waiting-room-ticket': ticket } });

export const buyWithPass = (url: string, itemId: string, userId: string, pass?: string) =>
  call(url, '/seckill', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(pass === undefined ? { userId, itemId } : { userId, itemId, pass }),
  });

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Asks each address in turn until one answers (a killed process refuses connections). */
async function anyOf(
  urls: () => string[],
  start: number,
  ask: (url: string) => Promise<Answer>,
  history?: string[],
) {
  for (let attempt = 0; ; attempt++) {
    const list = urls();
    try {
      const answer = await ask(list[(start + attempt) % list.length]!);
      history?.push(
        `${answer.status} ${answer.body?.status ?? answer.body?.error?.code ?? answer.body?.state}`,
      );
      if (answer.status < 500) return answer;
    } catch (err) {
      history?.push(`failed: ${(err as Error).message}`); // connection refused or reset: the next address
    }
    if (attempt > 200) throw new Error('no api process answered');
    await pause(50);
  }
}

export interface VisitorOutcome {
  userId: string;
  ticket: string;
  /** The final purchase answer, or the room's last state when the visitor never bought. */
  outcome: string;
  /** Every purchase answer the visitor heard, for a failing test's message. */
  purchases: string[];
}

/**
 * One visitor: joins, polls every `pollMs` until admitted (then buys with the pass, retrying busy) or told sold out.
 */
export async function visit(
  urls: () => string[],
  itemId: string,
  userId: string,
  slot: number,
  options: { pollMs?: number; deadline: number },
): Promise<VisitorOutcome> {
  const joined = await anyOf(urls, slot, (url) => joinRoom(url, itemId, userId));
  if (joined.status !== 200)
    throw new Error(`join ${userId}: ${joined.status} ${JSON.stringify(joined.body)}`);
  const { ticket } = joined.body;
  let status = joined.body;
  const purchases: string[] = [];
  while (Date.now() < options.deadline) {
    if (status.state === 'sold_out') return { userId, ticket, outcome: 'sold_out', purchases };
    if (status.state === 'admitted') {
      const bought = await anyOf(
        urls,
        slot,
        (url) => buyWithPass(url, itemId, userId, status.pass),
        purchases,
      );
      if (bought.body?.status !== 'busy')
        return { userId, ticket, outcome: bought.body?.status ?? bought.body?.error?.code, purchases };
    }
    await pause(options.pollMs ?? 50);
    status = (await anyOf(urls, slot, (url) => roomStatus(url, itemId, ticket))).body;
  }
  return { userId, ticket, outcome: `timeout:${status.state}`, purchases };
}

/** The room's admission log as Redis holds it: tickets in admission order, with when. */
export async function admissionLog(redis: Redis, itemId: string) {
  const entries = await redis.lrange(`wr:{r${itemId}}:admitted`, 0, -1);
  return entries.map((entry) => {
    const [ticket, at] = entry.split(':');
    return { ticket: Number(ticket), at: Number(at) };
  });
}

/** The most admissions in any window of `windowMs`. */
export function mostAdmittedWithin(log: { at: number }[], windowMs: number): number {
  let most = 0;
  for (let lo = 0, hi = 0; hi < log.length; hi++) {
    while (log[hi]!.at - log[lo]!.at >= windowMs) lo++;
    most = Math.max(most, hi - lo + 1);
  }
  return most;
}
