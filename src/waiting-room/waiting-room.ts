// The waiting room, start to finish: a visitor joins (one ticket per user and sale) → polls their status, answered
// from this process's copy of the room (position, people ahead, the serving number, an estimated wait, sold out) →
// once the inlet has admitted their ticket, the status carries a signed pass → the purchase spends the pass (once)
// and its answer moves the room: ordered counts toward units left, busy gives the pass back, any answer frees the
// place (sold out reaches the queue from the stock's own verdict, at the next refresh). Redis keys and scripts stay
// behind RoomStore (redis-room.ts); the copy is room-view.ts.
import { AppError } from '../errors';
import type { PassClaims, RoomPasses, TicketClaims } from './passes';
import type { RoomDefinition, RoomStore } from './port';
import type { RoomView, RoomViews } from './room-view';

export interface RoomStatus {
  state: 'not_started' | 'waiting' | 'admitted' | 'sold_out' | 'expired';
  /** fifo: your place in line (1-based); null in the lottery and in the pre-queue before its shuffle. */
  position: number | null;
  /** fifo: visitors still waiting before you. */
  ahead: number | null;
  /** Visitors admitted so far. */
  serving: number;
  waiting: number;
  estimatedWaitMs: number | null;
  /** Units not yet ordered through the room. */
  unitsLeft: number;
  /** More visitors stand before you (fifo), or wait with you per unit left (random: over 10 each), than units left. */
  unlikely: boolean;
  pass?: string;
  passExpiresAt?: string;
}

export interface WaitingRoomDeps {
  store: RoomStore;
  views: RoomViews;
  passes: RoomPasses;
  onPassRefused?(code: string): void;
  onBookkeepingError?(itemId: string, err: unknown): void;
}

/** The purchase answers the room acts on. */
type PurchaseStatus = { status: string };

export class WaitingRoom {
  constructor(private readonly deps: WaitingRoomDeps) {}

  async join(room: RoomDefinition, userId: string): Promise<{ ticket: string } & RoomStatus> {
    requireRoom(room);
    const ticket = await this.ticketFor(room, userId);
    const claims = { userId, itemId: room.itemId, ticket };
    const [token, status] = await Promise.all([this.deps.passes.ticket(claims), this.status(room, claims)]);
    return { ticket: token, ...status };
  }

  /**
   * The status from this process's memory alone, with nothing to wait for: a ticket verified here before, a copy of
   * the room refreshed already, and nothing to do but answer (an admitted ticket's pass is signed, and a restored
   * room may put the visitor back: statusOf does those). undefined: ask statusOf. Most polls of a waiting crowd end
   * here.
   */
  statusFromMemory(room: RoomDefinition, ticketToken: string): RoomStatus | undefined {
    if (room.admission.mode === 'off') return undefined;
    const claims = this.deps.passes.knownTicket(ticketToken);
    if (claims?.itemId !== room.itemId) return undefined;
    const view = this.deps.views.readyView(room.itemId);
    if (!view || view.restored || view.admissionOf(claims.ticket) !== undefined) return undefined;
    view.noteSeen(claims.ticket);
    return statusOf(view, claims.ticket);
  }

  /** The status of the ticket a visitor holds (readTicket checked it is theirs and signed). */
  async statusOf(room: RoomDefinition, ticketToken: string): Promise<RoomStatus> {
    requireRoom(room);
    const claims = await this.deps.passes.readTicket(ticketToken);
    if (claims.itemId !== room.itemId)
      throw new AppError('ticket_invalid', 'this ticket is for another sale');
    return this.status(room, claims);
  }

  /**
   * Runs a purchase behind the room: a sale without one goes straight in; with one, the buyer's pass must be signed,
   * theirs, for this sale, unexpired and unspent, and is spent before the purchase (a 4xx otherwise, nothing
   * changed). The purchase's answer then moves the room.
   */
  async admitted<R extends PurchaseStatus>(
    room: RoomDefinition,
    buyer: { userId: string; pass?: string },
    purchase: () => Promise<R>,
  ): Promise<R> {
    if (room.admission.mode === 'off') return purchase();
    const pass = await this.checkPass(room, buyer);
    if (!(await this.deps.store.spendPass(room.itemId, pass.ticket))) {
      throw this.refused('pass_used', 'this pass was used already');
    }
    let result: R;
    try {
      result = await purchase();
    } catch (err) {
      await this.afterPurchase(room, pass, 'busy');
      throw err;
    }
    await this.afterPurchase(room, pass, result.status);
    return result;
  }

  /** A unit of the sale came back (an unpaid order expired): the inlet may admit one more. Never throws. */
  async unitReturned(room: RoomDefinition): Promise<void> {
    if (room.admission.mode === 'off') return;
    await this.deps.store
      .unitBack(room.itemId)
      .catch((err) => this.deps.onBookkeepingError?.(room.itemId, err));
  }

  /**
   * The worker's backstop: the orders the room counts (what its inlet admits against) set from the ledger's active
   * orders, whatever a crash, a lost answer or a Redis flush left of the count.
   */
  async reconcile(room: RoomDefinition, activeOrders: number): Promise<void> {
    if (room.admission.mode === 'off') return;
    await this.deps.store.setOrdered(room.itemId, activeOrders, room.stock);
  }

  private async ticketFor(room: RoomDefinition, userId: string): Promise<number> {
    let answer = await this.deps.store.join(room, userId);
    if (answer === 'missing') {
      await this.deps.views.restore(room);
      answer = await this.deps.store.join(room, userId);
    }
    if (answer === 'not_open') throw new AppError('room_not_open', 'the waiting room is not open yet');
    if (typeof answer !== 'number')
      throw new AppError('unavailable', 'the waiting room is being restored; join again');
    (await this.deps.views.of(room)).noteIssued(answer);
    return answer;
  }

  private async status(room: RoomDefinition, claims: TicketClaims): Promise<RoomStatus> {
    const view = await this.deps.views.of(room);
    view.noteSeen(claims.ticket);
    if (view.admissionOf(claims.ticket) === undefined && view.restored) await this.rejoin(view, claims);
    const status = statusOf(view, claims.ticket);
    if (status.state !== 'admitted') return status;
    const expiresAt = view.admissionOf(claims.ticket)! + room.admission.passTtlMs;
    const pass = await this.deps.passes.pass({ ...claims, expiresAt });
    return { ...status, pass, passExpiresAt: new Date(expiresAt).toISOString() };
  }

  /** After Redis lost the room, a waiting visitor's ticket is put back in line (once per process). */
  private async rejoin(view: RoomView, claims: TicketClaims): Promise<void> {
    if (view.rejoined.has(claims.ticket)) return;
    const answer = await this.deps.store.join(view.room, claims.userId, claims.ticket);
    if (typeof answer === 'number') view.rejoined.add(claims.ticket);
  }

  private async checkPass(
    room: RoomDefinition,
    buyer: { userId: string; pass?: string },
  ): Promise<PassClaims> {
    if (!buyer.pass)
      throw this.refused('pass_required', 'this sale has a waiting room: join it and buy with its pass');
    let pass: PassClaims;
    try {
      pass = await this.deps.passes.readPass(buyer.pass);
    } catch (err) {
      if (err instanceof AppError) this.deps.onPassRefused?.(err.code);
      throw err;
    }
    if (pass.itemId !== room.itemId) throw this.refused('pass_invalid', 'this pass is for another sale');
    if (pass.userId !== buyer.userId)
      throw this.refused('pass_not_yours', 'this pass was issued to another buyer');
    return pass;
  }

  /**
   * Never throws: the room's bookkeeping must not change the purchase's answer (units left is an estimate, a pass
   * not given back expires and frees its place). A `sold_out` answer does not close the room: it may be one segment's
   * unit the ledger refused (Redis counted one too many, e.g. after a flush), not the sale; the room hears the
   * stock's own verdict at its next refresh (ViewOptions.soldOutHere).
   */
  private async afterPurchase(room: RoomDefinition, pass: PassClaims, status: string): Promise<void> {
    const { store } = this.deps;
    const moved =
      status === 'ordered'
        ? store.countOrder(room.itemId, pass.ticket)
        : status === 'busy'
          ? store.givePassBack(room.itemId, pass.ticket, pass.expiresAt)
          : store.passFinished(room.itemId, pass.ticket);
    await moved.catch((err) => this.deps.onBookkeepingError?.(room.itemId, err));
  }

  private refused(code: 'pass_required' | 'pass_invalid' | 'pass_not_yours' | 'pass_used', message: string) {
    this.deps.onPassRefused?.(code);
    return new AppError(code, message);
  }
}

function requireRoom(room: RoomDefinition): void {
  if (room.admission.mode === 'off') throw new AppError('no_waiting_room', 'this sale has no waiting room');
}

/** What a ticket's holder is told, from this process's copy of the room alone. */
export function statusOf(view: RoomView, ticket: number): RoomStatus {
  const { counters, room } = view;
  const now = view.now();
  const unitsLeft = Math.max(0, room.stock - counters.ordered);
  const admittedAt = view.admissionOf(ticket);
  const fifo = room.admission.mode === 'fifo';
  const position = fifo ? view.positionOf(ticket) : null;
  const ahead = position === null ? null : Math.max(0, position - counters.admitted - 1);
  const rate = admissionsPerSecond(view);
  const inLine = admittedAt !== undefined ? 0 : fifo && ahead !== null ? ahead + 1 : counters.waiting;
  const base = {
    position,
    ahead,
    serving: counters.admitted,
    waiting: counters.waiting,
    estimatedWaitMs: rate ? Math.round((inLine / rate) * 1000) : null,
    unitsLeft,
    unlikely: fifo
      ? (ahead ?? counters.waiting) + counters.unfinished >= unitsLeft
      : counters.waiting > 10 * Math.max(0, unitsLeft - counters.unfinished),
  };
  const state: RoomStatus['state'] =
    admittedAt !== undefined
      ? admittedAt + room.admission.passTtlMs > now
        ? 'admitted'
        : 'expired'
      : counters.soldOut || unitsLeft === 0
        ? 'sold_out'
        : room.startsAt && now < room.startsAt.getTime()
          ? 'not_started'
          : 'waiting';
  return { state, ...base, ahead: admittedAt !== undefined ? 0 : base.ahead };
}

/**
 * The pace to expect: the configured rate, which the inlet keeps while visitors wait; a cap-only room goes at the
 * pace this process has watched (undefined until it has seen one admission a minute).
 */
export function admissionsPerSecond(view: RoomView): number | undefined {
  const rate = view.room.admission.ratePerSec || view.admissionRate;
  return rate >= 1 / 60 ? rate : undefined;
}
