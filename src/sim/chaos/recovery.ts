// How long a fault kept buyers from ordering, read from what the buyers were answered: the first order told to a
// request sent after the injection, and the busy answers given until then. A pure function of the answer log.
import type { Recovery } from '../report-types';

export interface TimedAnswer {
  /** Epoch ms the request left, and its answer came. */
  sentAt: number;
  at: number;
  /** A load-driver outcome (ordered, busy, sold_out, errors, …) or no_answer (refused, reset, timed out). */
  outcome: string;
}

export function recoveryAfter(answers: readonly TimedAnswer[], injectedAt: number): Recovery {
  const firstOrder = answers
    .filter((a) => a.outcome === 'ordered' && a.sentAt >= injectedAt)
    .reduce((first, a) => Math.min(first, a.at), Infinity);
  const busyAnswers = answers.filter(
    (a) => a.outcome === 'busy' && a.at >= injectedAt && a.at <= firstOrder,
  ).length;
  return Number.isFinite(firstOrder)
    ? { firstOrderAfterMs: firstOrder - injectedAt, busyAnswers }
    : { busyAnswers };
}
