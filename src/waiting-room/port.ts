// What the waiting room needs from its store: a port, so that waiting-room.ts reads as the use case it is and the
// Redis keys and scripts stay private to redis-room.ts.
import type { StrategyName } from '../config';
import type { AdmissionSettings } from './settings';

/** A room as its store opens and restores it: the sale's settings and its window. */
export interface RoomDefinition {
  itemId: string;
  /** The stock strategy that sells it (whose memory says when it is sold out). */
  strategy: StrategyName;
  stock: number;
  startsAt: Date | null;
  admission: AdmissionSettings;
}

/** One refresh of the room: the counters every process copies, and the admission log from the caller's cursor. */
export interface RoomSnapshot {
  /** The store's clock, ms (every process reads the same one). */
  now: number;
  /** Tickets handed out (the highest ticket number). */
  joined: number;
  /** Tickets 1..preQueued joined before the start (null until the start). */
  preQueued: number | null;
  /** Visitors admitted so far (the serving number). */
  admitted: number;
  waiting: number;
  /** Admitted visitors whose pass is neither spent nor expired. */
  unfinished: number;
  soldOut: boolean;
  /** Orders bought through the room. */
  ordered: number;
  /** '0' until Redis lost the room; each restore gives it a new one. */
  epoch: string;
  /** Admission log entries after the cursor, in admission order. */
  entries: { ticket: number; admittedAt: number }[];
}

export type JoinAnswer = number | 'missing' | 'not_open' | 'restoring';

export interface RoomStore {
  open(room: RoomDefinition): Promise<void>;
  /** A ticket for the user (the same one on every join); `ticket`: the one a rejoin after a restore brings back. */
  join(room: RoomDefinition, userId: string, ticket?: number): Promise<JoinAnswer>;
  /**
   * Runs the inlet and reads the room; 'missing': Redis lost it (restore it). `seen`: the tickets that polled this
   * process since its last call; a visitor not seen for `awayAfterMs` when their turn comes is skipped until seen.
   */
  advance(
    itemId: string,
    cursor: number,
    refreshMs: number,
    presence: { awayAfterMs: number; seen: readonly number[] },
  ): Promise<RoomSnapshot | 'missing'>;
  /**
   * Writes back what a process knows of a lost room, or merges it into the restored one; admissions wait `pauseMs`
   * after the first restore, for the other processes and the waiting visitors to come back.
   */
  restore(
    room: RoomDefinition,
    known: { joined: number; preQueued: number | null; entries: RoomSnapshot['entries'] },
    pauseMs: number,
  ): Promise<void>;
  /** true: spent now; false: spent before. The ticket's place stays taken until its purchase is answered. */
  spendPass(itemId: string, ticket: number): Promise<boolean>;
  /** The purchase was not decided (busy): the pass is good again until it expires. */
  givePassBack(itemId: string, ticket: number, expiresAt: number): Promise<void>;
  /**
   * An order bought through the room: counts toward units left, frees the ticket's place, and lifts a sold-out flag
   * (a unit was there).
   */
  countOrder(itemId: string, ticket: number): Promise<void>;
  /** The purchase was answered without an order (sold out, a duplicate): the ticket's place is free. */
  passFinished(itemId: string, ticket: number): Promise<void>;
  markSoldOut(itemId: string): Promise<void>;
  /** A unit of the room's sale came back (an unpaid order expired): one order fewer, and not sold out. */
  unitBack(itemId: string): Promise<void>;
  /** The orders counted set from the ledger (the sweep's backstop); below the stock, not sold out. */
  setOrdered(itemId: string, ordered: number, stock: number): Promise<void>;
}
