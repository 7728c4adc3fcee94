// Pure logic of the PostgreSQL failover work: which database errors are "no primary right now" (503, not 500), and
// the recovery figure read from a timed answer log.
import { isDatabaseUnavailable } from '../../src/infra/postgres';
import { recoveryAfter } from '../../src/sim/chaos/recovery';

test('connection failures, shutdowns and standbys are unavailable; a wrong query is not', () => {
  const pgError = (code: string) => Object.assign(new Error('x'), { code });
  expect(isDatabaseUnavailable(pgError('57P01'))).toBe(true); // terminating connection (postmaster died)
  expect(isDatabaseUnavailable(pgError('08006'))).toBe(true); // connection failure
  expect(isDatabaseUnavailable(pgError('25006'))).toBe(true); // read-only: a standby answered
  expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  // Prisma: the SQLSTATE in its driver adapter's cause, or only in its message.
  const prisma = {
    message: 'Invalid call',
    meta: { driverAdapterError: { cause: { originalCode: '57P03' } } },
  };
  expect(isDatabaseUnavailable(prisma)).toBe(true);
  expect(isDatabaseUnavailable(new Error('Database error. Code: `25006`. Message: `read-only`'))).toBe(true);
  // Prisma's own code is not a SQLSTATE: no connection for a transaction in time (P2028) is unavailable.
  const noConnection = Object.assign(
    new Error('Transaction API error: Unable to start a transaction in the given time.'),
    {
      name: 'PrismaClientKnownRequestError',
      code: 'P2028',
    },
  );
  expect(isDatabaseUnavailable(noConnection)).toBe(true);
  expect(isDatabaseUnavailable(new Error('Database error. Code: `23505`. Message: `duplicate`'))).toBe(false);
  expect(isDatabaseUnavailable(pgError('42P01'))).toBe(false); // undefined table: a bug, a 500
  expect(isDatabaseUnavailable(new Error('something else'))).toBe(false);
  expect(isDatabaseUnavailable(undefined)).toBe(false);
});

test('recovery: the first order to a request sent after the fault, the busy answers until it, and all told after it', () => {
  const at = 1000;
  const answers = [
    { sentAt: 990, at: 1010, outcome: 'ordered' }, // sent before the fault: not a recovery
    { sentAt: 1005, at: 1100, outcome: 'busy' },
    { sentAt: 1100, at: 1400, outcome: 'no_answer' },
    { sentAt: 1200, at: 1500, outcome: 'busy' },
    { sentAt: 1500, at: 2600, outcome: 'ordered' },
    { sentAt: 2000, at: 2700, outcome: 'busy' }, // after the first order: not counted
    { sentAt: 1900, at: 2900, outcome: 'ordered' },
  ];
  expect(recoveryAfter(answers, at)).toEqual({
    firstOrderAfterMs: 1600,
    busyAnswers: 2,
    answersAfter: { busy: 3, no_answer: 1, ordered: 2 },
  });
  expect(recoveryAfter(answers.slice(0, 4), at)).toEqual({
    busyAnswers: 2,
    answersAfter: { busy: 2, no_answer: 1 },
  });
});
