// The waiting room's two routes, on node:http like POST /seckill (a waiting crowd polls once a second each, so the
// poll must cost no more than parsing and answering it): POST /sales/:itemId/waiting-room joins,
// GET /sales/:itemId/waiting-room with the ticket in `Waiting-Room-Ticket` answers the status.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../infra/logger';
import type { Sales } from '../orders/sales';
import type { WaitingRoom } from '../waiting-room/waiting-room';
import { actingUser, buyerVerifier, type BuyerAuth } from './guards';
import { answerError, readJsonBody, sendJson } from './node-route';
import { itemParams, joinBody, joinBodyWithToken, parseInput, ticketHeader } from './validation';

export interface WaitingRoomRouteDeps {
  log: Logger;
  buyerAuth: BuyerAuth;
  maxBodyBytes: number;
  sales: Sales;
  room: WaitingRoom;
}

const ROOM_PATH = /^\/sales\/([^/?]*)\/waiting-room\/?(\?|$)/;
export const TICKET_HEADER = 'waiting-room-ticket';

/** The requests these routes answer: POST (join) and GET (status) of /sales/:itemId/waiting-room. */
export const isWaitingRoomRequest = (req: IncomingMessage): boolean =>
  (req.method === 'POST' || req.method === 'GET') && ROOM_PATH.test(req.url ?? '');

export function waitingRoomRoute(deps: WaitingRoomRouteDeps) {
  const buyerOf = buyerVerifier(deps.buyerAuth);
  const schema = deps.buyerAuth.mode === 'token' ? joinBodyWithToken : joinBody;

  const saleOf = (req: IncomingMessage) => {
    const { itemId } = parseInput(itemParams, { itemId: decodeURIComponent(ROOM_PATH.exec(req.url!)![1]!) });
    return deps.sales.get(itemId);
  };

  const join = async (req: IncomingMessage) => {
    const subject = await buyerOf(req.headers.authorization);
    const body = parseInput(schema, await readJsonBody(req, deps.maxBodyBytes));
    return deps.room.join(await saleOf(req), actingUser(subject, body.userId));
  };

  const status = async (req: IncomingMessage) => {
    const ticket = parseInput(ticketHeader, req.headers[TICKET_HEADER]);
    return deps.room.statusOf(await saleOf(req), ticket);
  };

  // Never rejects: every error becomes an answer.
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      sendJson(res, 200, req.method === 'POST' ? await join(req) : await status(req));
    } catch (err) {
      await answerError(req, res, err, deps.log);
    }
  };
}
