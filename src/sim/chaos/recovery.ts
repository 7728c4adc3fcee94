// How long a fault kept buyers from ordering, read from what the buyers were answered: the first order told to a
// request sent after the injection, the busy answers given until then, and every answer to a request sent after it
// by outcome (what the crowd was told through the fault). A pure function of the answer log.
import type { Recovery } from '../report-types';

export interface TimedAnswer {
  /** Epoch ms the request left, and its answer came. */
  sentAt: number;
  at: number;
  /** A load-driver outcome (ordered, busy, sold_out, errors, …) or no_answer (refused, reset, timed out). */
  outcome: string;
  /** For an `errors` outcome: the HTTP status and the start of the body, to say what it was. */
  detail?: string;
}

export function recoveryAfter(answers: readonly TimedAnswer[], injectedAt: number): Recovery {
  const sentAfter = answers.filter((a) => a.sentAt >= injectedAt);
  const firstOrder = sentAfter
    .filter((a) => a.outcome === 'ordered')
    .reduce((first, a) => Math.min(first, a.at), Infinity);
  const busyAnswers = answers.filter(
    (a) => a.outcome === 'busy' && a.at >= injectedAt && a.at <= firstOrder,
  ).length;
  const answersAfter: Record<string, number> = {};
  for (const a of sentAfter) answersAfter[a.outcome] = (answersAfter[a.outcome] ?? 0) + 1;
  return Number.isFinite(firstOrder)
    ? { firstOrderAfterMs: firstOrder - injectedAt, busyAnswers, answersAfter }
    : { busyAnswers, answersAfter };
}
