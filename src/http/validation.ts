// Input schemas of every route. Ids travel as decimal strings (64-bit values do not fit a JSON number).
import { z } from 'zod';
import { STRATEGY_NAMES } from '../config';
import { AppError } from '../errors';

const decimalId = z.string().regex(/^[1-9][0-9]{0,18}$/, 'must be a decimal id string');
const userId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of [A-Za-z0-9_-]');

export const seckillBody = z.object({ userId, itemId: decimalId }).strict();
export const payBody = z.object({ userId }).strict();
export const itemParams = z.object({ itemId: decimalId });
export const orderParams = z.object({ orderId: decimalId });

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
  })
  .strict()
  .refine((sale) => !sale.startsAt || !sale.endsAt || new Date(sale.startsAt) < new Date(sale.endsAt), {
    message: 'endsAt must be after startsAt',
    path: ['endsAt'],
  });

export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
  throw new AppError('invalid_input', problems.join('; '));
}
