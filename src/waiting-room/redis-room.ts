// The waiting room in Redis: its keys and scripts (lua/*.lua, each opening with its KEYS, ARGV and replies), private
// behind RoomStore. A room's keys share one hash tag, so every script touches one slot (Redis Cluster).
import { join } from 'node:path';
import { defineScripts } from '../infra/lua-scripts';
import type { RedisClient } from '../infra/redis';
import type { JoinAnswer, RoomDefinition, RoomSnapshot, RoomStore } from './port';

const LUA = { join: 7, advance: 12, givePassBack: 2, restore: 7 } as const;
type ScriptName = keyof typeof LUA;
type ScriptRedis = RedisClient & Record<ScriptName, (...args: (string | number)[]) => Promise<unknown>>;

const roomScript = (name: string) => `room${name[0]!.toUpperCase()}${name.slice(1)}`;

/** Most log entries one refresh carries: a process that starts late catches up over a few refreshes. */
const LOG_CHUNK = 5000;
/** Most admissions one script run makes, and most visitors it skips as away. */
const ADMIT_CHUNK = 1000;

function roomKeys(itemId: string) {
  const tag = `{r${itemId}}`;
  const key = (name: string) => `wr:${tag}:${name}`;
  return {
    cfg: key('cfg'),
    seq: key('seq'),
    tickets: key('tickets'),
    waiting: key('waiting'),
    admitted: key('admitted'),
    inflight: key('inflight'),
    bucket: key('bucket'),
    soldOut: key('soldout'),
    ordered: key('ordered'),
    admittedSet: key('admitted-set'),
    paused: key('paused'),
    used: key('used'),
    seen: key('seen'),
    away: key('away'),
  };
}

/** The settings fields the scripts read (cfg hash). */
function settingsFields(room: RoomDefinition): (string | number)[] {
  const { admission } = room;
  const startsAt = room.startsAt?.getTime() ?? 0;
  return [
    'mode',
    admission.mode,
    'rate',
    admission.ratePerSec,
    'cap',
    admission.maxUnfinished,
    'ttl',
    admission.passTtlMs,
    'seed',
    admission.seed,
    'startsAt',
    startsAt,
    'opensAt',
    admission.preQueueOpensAt?.getTime() ?? startsAt,
    'stock',
    room.stock,
  ];
}

const JOIN_CODES: Record<number, JoinAnswer> = { [-1]: 'missing', [-2]: 'not_open', [-3]: 'restoring' };

export class RedisRoomStore implements RoomStore {
  private readonly redis: ScriptRedis;

  constructor(redis: RedisClient) {
    defineScripts(redis, join(__dirname, 'lua'), LUA, roomScript);
    this.redis = redis as ScriptRedis;
  }

  private run(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    return this.redis[roomScript(name) as ScriptName](...args);
  }

  async open(room: RoomDefinition): Promise<void> {
    const k = roomKeys(room.itemId);
    await this.redis
      .multi()
      .del(...Object.values(k))
      .hset(k.cfg, ...settingsFields(room))
      .exec();
  }

  async join(room: RoomDefinition, userId: string, ticket = 0): Promise<JoinAnswer> {
    const k = roomKeys(room.itemId);
    const reply = Number(
      await this.run(
        'join',
        k.cfg,
        k.seq,
        k.tickets,
        k.waiting,
        k.admittedSet,
        k.paused,
        k.seen,
        userId,
        ticket,
      ),
    );
    return JOIN_CODES[reply] ?? reply;
  }

  async advance(
    itemId: string,
    cursor: number,
    refreshMs: number,
    presence: { awayAfterMs: number; seen: readonly number[] },
  ): Promise<RoomSnapshot | 'missing'> {
    const k = roomKeys(itemId);
    const reply = (await this.run(
      'advance',
      k.cfg,
      k.seq,
      k.waiting,
      k.admitted,
      k.inflight,
      k.bucket,
      k.soldOut,
      k.ordered,
      k.admittedSet,
      k.paused,
      k.seen,
      k.away,
      cursor,
      LOG_CHUNK,
      refreshMs,
      ADMIT_CHUNK,
      presence.awayAfterMs,
      ADMIT_CHUNK,
      ...presence.seen,
    )) as (number | string)[];
    if (Number(reply[0]) === -1) return 'missing';
    const [now, joined, preQueued, admitted, waiting, unfinished, soldOut, ordered, epoch, ...entries] =
      reply;
    return {
      now: Number(now),
      joined: Number(joined),
      preQueued: Number(preQueued) < 0 ? null : Number(preQueued),
      admitted: Number(admitted),
      waiting: Number(waiting),
      unfinished: Number(unfinished),
      soldOut: Number(soldOut) === 1,
      ordered: Number(ordered),
      epoch: String(epoch),
      entries: entries.map((entry) => {
        const [ticket, admittedAt] = String(entry).split(':');
        return { ticket: Number(ticket), admittedAt: Number(admittedAt) };
      }),
    };
  }

  async restore(
    room: RoomDefinition,
    known: { joined: number; preQueued: number | null; entries: RoomSnapshot['entries'] },
    pauseMs: number,
  ): Promise<void> {
    const k = roomKeys(room.itemId);
    const fields = settingsFields(room);
    await this.run(
      'restore',
      k.cfg,
      k.seq,
      k.admitted,
      k.inflight,
      k.admittedSet,
      k.paused,
      k.waiting,
      pauseMs,
      fields.length / 2,
      ...fields,
      known.joined,
      known.preQueued ?? -1,
      ...known.entries.map((entry) => `${entry.ticket}:${entry.admittedAt}`),
    );
  }

  /**
   * A pass is good for one purchase (its signature, owner, sale and expiry are checked before). Its place stays taken
   * (the ticket stays among the unfinished admissions) until the purchase is answered: a purchase under way counts
   * against the units left, so the inlet never admits a visitor for a unit being sold. A pass issued before Redis
   * lost the room is honoured once after it (the spent set starts empty again); the purchase's one-order-per-user
   * claim still stands behind it.
   */
  async spendPass(itemId: string, ticket: number): Promise<boolean> {
    return (await this.redis.sadd(roomKeys(itemId).used, ticket)) === 1;
  }

  async givePassBack(itemId: string, ticket: number, expiresAt: number): Promise<void> {
    const k = roomKeys(itemId);
    await this.run('givePassBack', k.used, k.inflight, ticket, expiresAt);
  }

  async countOrder(itemId: string, ticket: number): Promise<void> {
    const k = roomKeys(itemId);
    await this.redis.multi().incr(k.ordered).del(k.soldOut).zrem(k.inflight, ticket).exec();
  }

  async passFinished(itemId: string, ticket: number): Promise<void> {
    await this.redis.zrem(roomKeys(itemId).inflight, ticket);
  }

  async unitBack(itemId: string): Promise<void> {
    const k = roomKeys(itemId);
    await this.redis.multi().decr(k.ordered).del(k.soldOut).exec();
  }

  async setOrdered(itemId: string, ordered: number, stock: number): Promise<void> {
    const k = roomKeys(itemId);
    // A backstop: most sweeps find the count right and write nothing.
    if (Number(await this.redis.get(k.ordered)) !== ordered) await this.redis.set(k.ordered, ordered);
    if (ordered < stock) await this.redis.del(k.soldOut);
  }

  async markSoldOut(itemId: string): Promise<void> {
    await this.redis.set(roomKeys(itemId).soldOut, '1');
  }
}
