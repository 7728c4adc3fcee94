// A sale's waiting room as set when the sale is created (POST /admin/sales `admission`), stored with the item row.
import { randomBytes } from 'node:crypto';

export const ADMISSION_MODES = ['off', 'fifo', 'random'] as const;
export type AdmissionMode = (typeof ADMISSION_MODES)[number];

export interface AdmissionSettings {
  /** off: no room, buyers go straight to the purchase; fifo: order of arrival; random: a lottery among those waiting. */
  mode: AdmissionMode;
  /** Visitors admitted per second; 0: no rate, the cap alone meters the room. */
  ratePerSec: number;
  /** Most visitors admitted whose pass is neither spent nor expired; 0: no cap. */
  maxUnfinished: number;
  /** How long an admission pass lives. */
  passTtlMs: number;
  /** Joining opens here, before the sale starts (the pre-queue, shuffled at the start in fifo); null: at the start. */
  preQueueOpensAt: Date | null;
  /** Seeds the pre-queue's shuffle and the lottery's draws: the same seed and crowd give the same admissions. */
  seed: string;
}

export const NO_ROOM: AdmissionSettings = {
  mode: 'off',
  ratePerSec: 0,
  maxUnfinished: 0,
  passTtlMs: 0,
  preQueueOpensAt: null,
  seed: '',
};

export const DEFAULT_PASS_TTL_MS = 30_000;

export interface AdmissionInput {
  mode: AdmissionMode;
  ratePerSec?: number;
  maxUnfinished?: number;
  passTtlMs?: number;
  preQueueOpensAt?: string;
  seed?: string;
}

export function admissionSettings(input: AdmissionInput | undefined): AdmissionSettings {
  if (!input || input.mode === 'off') return NO_ROOM;
  return {
    mode: input.mode,
    ratePerSec: input.ratePerSec ?? 0,
    maxUnfinished: input.maxUnfinished ?? 0,
    passTtlMs: input.passTtlMs ?? DEFAULT_PASS_TTL_MS,
    preQueueOpensAt: input.preQueueOpensAt ? new Date(input.preQueueOpensAt) : null,
    seed: input.seed ?? randomBytes(8).toString('hex'),
  };
}

/** The JSON kept in items.admission (null: no room). */
export function admissionJson(settings: AdmissionSettings) {
  if (settings.mode === 'off') return null;
  return { ...settings, preQueueOpensAt: settings.preQueueOpensAt?.toISOString() ?? null };
}

export function admissionFromJson(json: unknown): AdmissionSettings {
  if (json === null || typeof json !== 'object') return NO_ROOM;
  const stored = json as Omit<AdmissionSettings, 'preQueueOpensAt'> & { preQueueOpensAt: string | null };
  return { ...stored, preQueueOpensAt: stored.preQueueOpensAt ? new Date(stored.preQueueOpensAt) : null };
}
