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

/**
 * The requests these routes answer, POST (join) and GET (status) of /sales/:itemId/waiting-room: the path's item id
 * as sent (not yet decoded or checked), undefined for any other request.
 */
export function waitingRoomItem(req: IncomingMessage): string | undefined {
  if (req.method !== 'POST' && req.method !== 'GET') return undefined;
  return ROOM_PATH.exec(req.url ?? '')?.[1];
}

export function waitingRoomRoute(deps: WaitingRoomRouteDeps) {
  const buyerOf = buyerVerifier(deps.buyerAuth);
  const schema = deps.buyerAuth.mode === 'token' ? joinBodyWithToken : joinBody;

  const saleOf = (pathItemId: string) => {
    const { itemId } = parseInput(itemParams, { itemId: decodeURIComponent(pathItemId) });
    return deps.sales.get(itemId);
  };

  const join = async (req: IncomingMessage, pathItemId: string) => {
    const subject = await buyerOf(req.headers.authorization);
    const body = parseInput(schema, await readJsonBody(req, deps.maxBodyBytes));
    return deps.room.join(await saleOf(pathItemId), actingUser(subject, body.userId));
  };

  const status = async (req: IncomingMessage, pathItemId: string) => {
    const ticket = parseInput(ticketHeader, req.headers[TICKET_HEADER]);
    return deps.room.statusOf(await saleOf(pathItemId), ticket);
  };

  /**
   * A waiting visitor's poll answered with no await when the sale, the ticket (verified before, so its header was
   * checked then) and the room's copy are all in this process's memory; undefined: `status` does it all.
   */
  const statusFromMemory = (req: IncomingMessage, pathItemId: string) => {
    const ticket = req.headers[TICKET_HEADER];
    if (typeof ticket !== 'string') return undefined;
    const sale = deps.sales.cached(pathItemId);
    return sale && deps.room.statusFromMemory(sale, ticket);
  };

  // Never rejects: every error becomes an answer. `pathItemId`: waitingRoomItem's answer for this request.
  return async (req: IncomingMessage, res: ServerResponse, pathItemId: string): Promise<void> => {
    try {
      const answer =
        req.method === 'POST'
          ? await join(req, pathItemId)
          : (statusFromMemory(req, pathItemId) ?? (await status(req, pathItemId)));
      sendJson(res, 200, answer);
    } catch (err) {
      await answerError(req, res, err, deps.log);
    }
  };
}
