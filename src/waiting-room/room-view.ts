// Each api process's copy of its rooms, refreshed about every 100 ms: status polls are answered from it without a
// round trip, so a waiting crowd costs what parsing and answering its polls costs. The refresh is also the inlet
// (advance.lua): whichever processes have visitors keep the room moving, and the rate holds however many do.
import { createHash } from 'node:crypto';
import type { RoomDefinition, RoomSnapshot, RoomStore } from './port';

/** A room nobody asked about for this long stops being refreshed by this process. */
const IDLE_AFTER_MS = 30_000;
/**
 * How long a restored room admits nobody: every process merges its copy of the log within a refresh, and waiting
 * visitors who poll at least this often are back in line before anyone new is admitted.
 */
export const RESTORE_PAUSE_MS = 2000;

export interface ViewOptions {
  refreshMs: number;
  /**
   * A visitor who has neither joined nor polled for this long when their turn comes is skipped (kept aside, and back
   * at the same place with their next poll): the tab closed, the buyer gone or told sold out, their turn goes to
   * someone still there instead of to a pass nobody uses.
   */
  awayAfterMs: number;
  /** This process's stock already says sold out (the room is told, so that its inlet stops and its queue hears it). */
  soldOutHere(room: RoomDefinition): boolean;
  onRefresh?(room: RoomDefinition, view: RoomView): void;
  onError?(itemId: string, err: unknown): void;
}

export class RoomView {
  counters: Omit<RoomSnapshot, 'entries'> = {
    now: 0,
    joined: 0,
    preQueued: null,
    admitted: 0,
    waiting: 0,
    unfinished: 0,
    soldOut: false,
    ordered: 0,
    epoch: '',
  };
  /** Admissions per second, as this process watched the serving number move (a moving average). */
  admissionRate = 0;
  readonly rejoined = new Set<number>();
  /** Tickets that polled this process since its last refresh (the room's presence: ViewOptions.awayAfterMs). */
  private seen = new Set<number>();
  lastUsed = Date.now();
  private readonly log: RoomSnapshot['entries'] = [];
  private readonly admittedAt = new Map<number, number>();
  private clockOffset = 0;
  private highestIssued = 0;
  private preQueuePositions?: Map<number, number>;

  constructor(readonly room: RoomDefinition) {}

  /** The store's clock now (every process reads the same one, so an expiry means the same everywhere). */
  now(): number {
    return Date.now() + this.clockOffset;
  }

  /** Redis lost the room once and it was restored: waiting visitors are put back as they poll. */
  get restored(): boolean {
    return this.counters.epoch !== '0';
  }

  admissionOf(ticket: number): number | undefined {
    return this.admittedAt.get(ticket);
  }

  /**
   * fifo: where a ticket stands in line, 1-based. After the start the pre-queue's tickets stand first, in the order
   * of their seeded fractions (the same ones join.lua scores them by); later tickets stand by number. null before
   * the start for the pre-queue (its order is drawn at the start).
   */
  positionOf(ticket: number): number | null {
    const preQueued = this.counters.preQueued;
    if (preQueued === null) return null;
    if (ticket > preQueued) return ticket;
    this.preQueuePositions ??= shuffledPositions(this.room.admission.seed, preQueued);
    return this.preQueuePositions.get(ticket) ?? null;
  }

  noteSeen(ticket: number): void {
    this.seen.add(ticket);
  }

  /** The tickets seen since the last call, for the next refresh. */
  takeSeen(): number[] {
    const seen = [...this.seen];
    this.seen = new Set();
    return seen;
  }

  /** A ticket this process handed out: a restore must never hand its number out again. */
  noteIssued(ticket: number): void {
    this.highestIssued = Math.max(this.highestIssued, ticket);
  }

  known() {
    const joined = Math.max(this.counters.joined, this.highestIssued);
    return { joined, preQueued: this.counters.preQueued, entries: this.log };
  }

  apply(snapshot: RoomSnapshot, at: number): void {
    const { entries, ...counters } = snapshot;
    const elapsed = this.counters.now ? snapshot.now - this.counters.now : 0;
    if (elapsed > 0) {
      const rate = ((snapshot.admitted - this.counters.admitted) * 1000) / elapsed;
      this.admissionRate = this.admissionRate ? 0.8 * this.admissionRate + 0.2 * rate : rate;
    }
    this.counters = counters;
    this.clockOffset = snapshot.now - at;
    for (const entry of entries) {
      this.log.push(entry);
      this.admittedAt.set(entry.ticket, entry.admittedAt);
    }
  }

  get cursor(): number {
    return this.log.length;
  }
}

/** The seeded shuffle of tickets 1..count that fifo's pre-queue is admitted in: ticket → position. */
export function shuffledPositions(seed: string, count: number): Map<number, number> {
  const tickets = Array.from({ length: count }, (_, i) => i + 1);
  const fractions = new Map(tickets.map((ticket) => [ticket, seededFraction(seed, ticket)]));
  tickets.sort((a, b) => fractions.get(a)! - fractions.get(b)! || a - b);
  return new Map(tickets.map((ticket, index) => [ticket, index + 1]));
}

/** The same number join.lua computes: the first 52 bits of sha1("seed:n") as a fraction of 2^52. */
export function seededFraction(seed: string, n: number): number {
  return parseInt(createHash('sha1').update(`${seed}:${n}`).digest('hex').slice(0, 13), 16) / 2 ** 52;
}

/** A room's copy and its first refresh (isReady once that is done: polls may then be answered without waiting). */
interface ViewEntry {
  view: RoomView;
  ready: Promise<void>;
  isReady: boolean;
}

/** The rooms this process serves, each refreshed on one timer. */
export class RoomViews {
  private readonly views = new Map<string, ViewEntry>();
  private timer?: NodeJS.Timeout;
  private refreshing = false;

  constructor(
    private readonly store: RoomStore,
    private readonly options: ViewOptions,
  ) {}

  /** This process's copy of the room, refreshed at least once. */
  async of(room: RoomDefinition): Promise<RoomView> {
    let entry = this.views.get(room.itemId);
    if (!entry) {
      const view = new RoomView(room);
      const created: ViewEntry = {
        view,
        ready: this.refresh(view).then(() => void (created.isReady = true)),
        isReady: false,
      };
      entry = created;
      this.views.set(room.itemId, entry);
      this.timer ??= setInterval(() => void this.refreshAll(), this.options.refreshMs);
    }
    entry.view.lastUsed = Date.now();
    await entry.ready;
    return entry.view;
  }

  /** This process's copy of the room if it has been refreshed already (no waiting): a status poll's fast path. */
  readyView(itemId: string): RoomView | undefined {
    const entry = this.views.get(itemId);
    if (!entry?.isReady) return undefined;
    entry.view.lastUsed = Date.now();
    return entry.view;
  }

  /** Redis lost the room: write back this process's copy (merged with the other processes'). */
  async restore(room: RoomDefinition): Promise<void> {
    const view = this.views.get(room.itemId)?.view ?? new RoomView(room);
    await this.store.restore(room, view.known(), RESTORE_PAUSE_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async refreshAll(): Promise<void> {
    if (this.refreshing) return; // a slow Redis: skip a beat rather than pile refreshes up
    this.refreshing = true;
    try {
      const idleBefore = Date.now() - IDLE_AFTER_MS;
      for (const [itemId, { view }] of this.views) {
        if (view.lastUsed < idleBefore) this.views.delete(itemId);
      }
      await Promise.all([...this.views.values()].map(({ view }) => this.refresh(view)));
      if (!this.views.size) this.stop();
    } finally {
      this.refreshing = false;
    }
  }

  private async refresh(view: RoomView): Promise<void> {
    const { room } = view;
    try {
      const at = Date.now();
      const snapshot = await this.store.advance(room.itemId, view.cursor, this.options.refreshMs, {
        awayAfterMs: this.options.awayAfterMs,
        seen: view.takeSeen(),
      });
      if (snapshot === 'missing') {
        await this.restore(room);
        return;
      }
      const restoredElsewhere = view.counters.epoch !== '' && snapshot.epoch !== view.counters.epoch;
      view.apply(snapshot, at);
      if (restoredElsewhere) {
        // Another process restored the room: add what this copy knows, and put this process's visitors back.
        view.rejoined.clear();
        await this.store.restore(room, view.known(), RESTORE_PAUSE_MS);
      }
      if (!snapshot.soldOut && this.options.soldOutHere(room)) {
        await this.store.markSoldOut(room.itemId);
        view.counters.soldOut = true;
      }
      this.options.onRefresh?.(room, view);
    } catch (err) {
      this.options.onError?.(room.itemId, err);
    }
  }
}
