// Tickets and admission passes: HS256 JWTs (jose), so any api process can check what another handed out and a
// restored room can take its visitors back from what they hold. A ticket says who waits for which sale at which
// number; a pass says that ticket was admitted, until when. Neither can be forged without the key.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { AppError, type ErrorCode } from '../errors';

export interface TicketClaims {
  userId: string;
  itemId: string;
  ticket: number;
}

export interface PassClaims extends TicketClaims {
  expiresAt: number;
}

type Kind = 'ticket' | 'pass';

/** Tickets outlive any sale a visitor waits for; what they grant is checked against the room each time. */
const TICKET_TTL_SEC = 7 * 24 * 3600;
/** Tickets one process remembers as verified: a waiting crowd of this size polls with no signature check. */
const VERIFIED_TICKETS = 100_000;

type Verified = TicketClaims & { exp: number };

/**
 * The room's key is derived from the admin token, which every api process of one service shares already (and whose
 * holder controls the service anyway): no second secret to distribute.
 */
export function roomKey(adminToken: string): Uint8Array {
  return createHmac('sha256', adminToken).update('seckill waiting room v1').digest();
}

export class RoomPasses {
  /** Made once: handed raw bytes, jose would build a KeyObject on every sign and verify. */
  private readonly key: KeyObject;
  /**
   * A waiting visitor polls with the same ticket every second, and its signature check was the largest part of a
   * poll's own CPU. Keyed by the whole token, so a hit is a token this process verified, byte for byte; its expiry
   * is checked on every hit.
   */
  private readonly verifiedTickets = new LRUCache<string, Verified>({ max: VERIFIED_TICKETS });

  constructor(key: Uint8Array) {
    this.key = createSecretKey(key);
  }

  ticket(claims: TicketClaims): Promise<string> {
    return this.sign('ticket', claims, Math.floor(Date.now() / 1000) + TICKET_TTL_SEC);
  }

  pass(claims: PassClaims): Promise<string> {
    return this.sign('pass', claims, Math.floor(claims.expiresAt / 1000));
  }

  /** A ticket this process verified before and that has not expired since; undefined: readTicket must look. */
  knownTicket(token: string): TicketClaims | undefined {
    const known = this.verifiedTickets.get(token);
    return known && known.exp * 1000 > Date.now() ? known : undefined;
  }

  async readTicket(token: string): Promise<TicketClaims> {
    const known = this.knownTicket(token);
    if (known) return known;
    const claims = await this.read('ticket', token, 'ticket_invalid', 'ticket_invalid');
    this.verifiedTickets.set(token, claims);
    return claims;
  }

  async readPass(token: string): Promise<PassClaims> {
    const claims = await this.read('pass', token, 'pass_invalid', 'pass_expired');
    return { ...claims, expiresAt: claims.exp * 1000 };
  }

  private sign(kind: Kind, claims: TicketClaims, expSec: number): Promise<string> {
    return new SignJWT({ kind, sale: claims.itemId, tkt: claims.ticket })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(claims.userId)
      .setExpirationTime(expSec)
      .sign(this.key);
  }

  private async read(kind: Kind, token: string, invalid: ErrorCode, expired: ErrorCode): Promise<Verified> {
    let payload: Record<string, unknown>;
    try {
      // Pinning the algorithm refuses "alg: none" and any other algorithm a forger might pick.
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new AppError(expired, `${kind} expired`);
      if (err instanceof joseErrors.JOSEError) throw new AppError(invalid, `${kind} refused: ${err.code}`);
      throw err;
    }
    const { kind: claimedKind, sale, tkt, sub, exp } = payload;
    if (
      claimedKind !== kind ||
      typeof sale !== 'string' ||
      !Number.isSafeInteger(tkt) ||
      typeof sub !== 'string'
    ) {
      throw new AppError(invalid, `${kind} refused: not a ${kind}`);
    }
    return { userId: sub, itemId: sale, ticket: tkt as number, exp: exp as number };
  }
}
