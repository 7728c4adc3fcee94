// Input schemas of every route. Ids travel as decimal strings (64-bit values do not fit a JSON number).
import { z } from 'zod';
import { STRATEGY_NAMES } from '../config';
import { ADMISSION_MODES } from '../waiting-room/settings';
import { AppError } from '../errors';

// Ids are PostgreSQL bigints: 19 digits can still exceed 2^63 - 1, which the database would refuse with a 500.
const MAX_ID = 2n ** 63n - 1n;
const decimalId = z
  .string()
  .regex(/^[1-9][0-9]{0,18}$/, 'must be a decimal id string')
  // zod runs this even when the regex failed, so it must not throw on what the regex refused.
  .refine((value) => !/^[0-9]+$/.test(value) || BigInt(value) <= MAX_ID, 'must fit a signed 64-bit integer');
const userId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of [A-Za-z0-9_-]');

/** An admission pass (waiting-room.ts checks it): a JWT, bounded so that a huge one is refused before verifying. */
const pass = z.string().min(1).max(1024).optional();
export const seckillBody = z.object({ userId, itemId: decimalId, pass }).strict();
export const payBody = z.object({ userId }).strict();
/** BUYER_AUTH=token: the buyer is the token's subject; a userId in the body is optional and must match it. */
export const seckillBodyWithToken = z.object({ userId: userId.optional(), itemId: decimalId, pass }).strict();
export const joinBody = z.object({ userId }).strict();
export const joinBodyWithToken = z.object({ userId: userId.optional() }).strict();
export const ticketHeader = z.string().min(1).max(1024);
export const payBodyWithToken = z.object({ userId: userId.optional() }).strict();
export const tokenSubject = userId;
export const itemParams = z.object({ itemId: decimalId });
export const orderParams = z.object({ orderId: decimalId });

const admission = z
  .object({
    mode: z.enum(ADMISSION_MODES),
    ratePerSec: z.number().positive().max(1_000_000).optional(),
    maxUnfinished: z.number().int().min(1).max(10_000_000).optional(),
    passTtlMs: z
      .number()
      .int()
      .min(1000)
      .max(24 * 3600_000)
      .optional(),
    preQueueOpensAt: z.iso.datetime({ offset: true }).optional(),
    seed: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of [A-Za-z0-9_-]')
      .optional(),
  })
  .strict()
  .refine(
    (room) => room.mode === 'off' || room.ratePerSec !== undefined || room.maxUnfinished !== undefined,
    {
      message: 'a waiting room needs ratePerSec, maxUnfinished or both',
    },
  );

export const newSaleBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    stock: z.number().int().min(1).max(10_000_000),
    segments: z.number().int().min(1).max(1024).optional(),
    strategy: z.enum(STRATEGY_NAMES).optional(),
    startsAt: z.iso.datetime({ offset: true }).optional(),
    endsAt: z.iso.datetime({ offset: true }).optional(),
    paymentTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(7 * 24 * 3600_000)
      .optional(),
    admission: admission.optional(),
  })
  .strict()
  .refine((sale) => !sale.startsAt || !sale.endsAt || new Date(sale.startsAt) < new Date(sale.endsAt), {
    message: 'endsAt must be after startsAt',
    path: ['endsAt'],
  })
  .refine(
    ({ admission, startsAt }) =>
      !admission?.preQueueOpensAt || (!!startsAt && new Date(admission.preQueueOpensAt) < new Date(startsAt)),
    {
      message: 'a pre-queue opens before startsAt (which it needs)',
      path: ['admission', 'preQueueOpensAt'],
    },
  );

export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
  throw new AppError('invalid_input', problems.join('; '));
}
