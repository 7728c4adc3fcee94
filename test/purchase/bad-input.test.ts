// Every bad input gets a 4xx with a machine-readable code, and changes nothing in Redis or PostgreSQL.
import { once } from 'node:events';
import { connect } from 'node:net';
import { ADMIN_TOKEN, startStack, waitFor, type TestStack } from '../support/stack';
import { joinRoom, roomStatus } from '../support/waiting-room';
import { stateSnapshot } from '../support/snapshot';

let stack: TestStack;
let itemId: string;
/** A sale with a waiting room whose one visitor is admitted already (so that its inlet has nothing left to move). */
let roomItemId: string;
let notOpenItemId: string;
let ticket: string;
let pass: string;
beforeAll(async () => {
  // Presence off: the admitted visitor stays admitted however long the cases take (snapshots compare its place).
  stack = await startStack(3, { env: { WAITING_ROOM_AWAY_AFTER_MS: '0' } });
  ({ itemId } = await stack.createSale({ name: 'guarded', stock: 10, segments: 2 }));
  ({ itemId: roomItemId } = await stack.createSale({
    name: 'room',
    stock: 10,
    admission: { mode: 'fifo', ratePerSec: 50 },
  }));
  ({ itemId: notOpenItemId } = await stack.createSale({
    name: 'later',
    stock: 10,
    startsAt: new Date(Date.now() + 3600_000).toISOString(),
    admission: { mode: 'fifo', ratePerSec: 50 },
  }));
  ({ ticket } = (await joinRoom(stack.url, roomItemId, 'waiting-one')).body);
  pass = (await waitFor(
    'the visitor admitted',
    async () => (await roomStatus(stack.url, roomItemId, ticket)).body.pass,
  ))!;
});
afterAll(async () => {
  await stack.stop();
});

/** Everything a request could have changed. */
const snapshot = () => stateSnapshot(stack.service);

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const json = { 'content-type': 'application/json' };

type Case = [name: string, send: () => Promise<Response>, status: number, code: string];
const post =
  (path: string, body: string, headers: Record<string, string> = json) =>
  () =>
    fetch(stack.url + path, { method: 'POST', body, headers });

const roomFetch = (saleId: string, token: string) =>
  fetch(`${stack.url}/sales/${saleId}/waiting-room`, { headers: { 'waiting-room-ticket': token } });

const cases: Case[] = [
  ['malformed JSON', post('/seckill', '{"userId": "a",'), 400, 'invalid_json'],
  ['missing itemId', post('/seckill', '{"userId":"a"}'), 400, 'invalid_input'],
  ['missing userId', () => post('/seckill', JSON.stringify({ itemId }))(), 400, 'invalid_input'],
  [
    'itemId as a number',
    () => post('/seckill', JSON.stringify({ userId: 'a', itemId: Number(itemId) }))(),
    400,
    'invalid_input',
  ],
  [
    'userId with a space',
    () => post('/seckill', JSON.stringify({ userId: 'a b', itemId }))(),
    400,
    'invalid_input',
  ],
  [
    'userId of 65 chars',
    () => post('/seckill', JSON.stringify({ userId: 'x'.repeat(65), itemId }))(),
    400,
    'invalid_input',
  ],
  ['empty userId', () => post('/seckill', JSON.stringify({ userId: '', itemId }))(), 400, 'invalid_input'],
  [
    'unknown field',
    () => post('/seckill', JSON.stringify({ userId: 'a', itemId, qty: 2 }))(),
    400,
    'invalid_input',
  ],
  ['JSON array body', post('/seckill', '[1,2]'), 400, 'invalid_input'],
  ['unknown item', post('/seckill', '{"userId":"a","itemId":"999999"}'), 404, 'item_not_found'],
  [
    'body over 8 KB',
    () => post('/seckill', JSON.stringify({ userId: 'a', itemId, pad: 'x'.repeat(9000) }))(),
    413,
    'payload_too_large',
  ],
  [
    'text/plain body',
    () => post('/seckill', JSON.stringify({ userId: 'a', itemId }), { 'content-type': 'text/plain' })(),
    415,
    'unsupported_media_type',
  ],
  [
    'no content type',
    () => post('/seckill', JSON.stringify({ userId: 'a', itemId }), {})(),
    415,
    'unsupported_media_type',
  ],
  [
    'Latin-1 charset',
    () =>
      post('/seckill', JSON.stringify({ userId: 'a', itemId }), {
        'content-type': 'application/json; charset=iso-8859-1',
      })(),
    415,
    'unsupported_media_type',
  ],
  [
    'gzip content encoding',
    () =>
      post('/seckill', JSON.stringify({ userId: 'a', itemId }), { ...json, 'content-encoding': 'gzip' })(),
    415,
    'unsupported_media_type',
  ],
  ['a JSON string body', post('/seckill', '"a"'), 400, 'invalid_json'],
  ['an empty body', post('/seckill', ''), 400, 'invalid_input'],
  ['admin without token', post('/admin/sales', '{"name":"x","stock":5}'), 401, 'unauthorized'],
  [
    'admin with wrong token',
    post('/admin/sales', '{"name":"x","stock":5}', { ...json, authorization: 'Bearer nope' }),
    401,
    'unauthorized',
  ],
  [
    'admin stock 0',
    post('/admin/sales', '{"name":"x","stock":0}', { ...json, ...admin }),
    400,
    'invalid_input',
  ],
  [
    'admin unknown strategy',
    post('/admin/sales', '{"name":"x","stock":5,"strategy":"yolo"}', { ...json, ...admin }),
    400,
    'invalid_input',
  ],
  [
    'admin lock strategy whose server is not configured (no ETCD_ENDPOINTS)',
    post('/admin/sales', '{"name":"x","stock":5,"strategy":"etcd-lock"}', { ...json, ...admin }),
    400,
    'invalid_input',
  ],
  [
    'admin ends before start',
    post(
      '/admin/sales',
      JSON.stringify({
        name: 'x',
        stock: 5,
        startsAt: '2030-01-02T00:00:00Z',
        endsAt: '2030-01-01T00:00:00Z',
      }),
      { ...json, ...admin },
    ),
    400,
    'invalid_input',
  ],
  ...(
    [
      ['a room that needs a rate or a cap', { mode: 'fifo' }],
      ['an unknown room mode', { mode: 'lottery', ratePerSec: 5 }],
      ['an unknown room field', { mode: 'fifo', ratePerSec: 5, vip: true }],
      ['a room rate of 0', { mode: 'fifo', ratePerSec: 0 }],
      [
        'a pre-queue without a start',
        { mode: 'fifo', ratePerSec: 5, preQueueOpensAt: '2030-01-01T00:00:00Z' },
      ],
    ] as const
  ).map(([name, admission]): Case => [
    `admin ${name}`,
    post('/admin/sales', JSON.stringify({ name: 'x', stock: 5, admission }), { ...json, ...admin }),
    400,
    'invalid_input',
  ]),
  [
    'join: malformed JSON',
    () => post(`/sales/${roomItemId}/waiting-room`, '{"userId":')(),
    400,
    'invalid_json',
  ],
  ['join: no userId', () => post(`/sales/${roomItemId}/waiting-room`, '{}')(), 400, 'invalid_input'],
  [
    'join: an unknown field',
    () => post(`/sales/${roomItemId}/waiting-room`, '{"userId":"a","times":3}')(),
    400,
    'invalid_input',
  ],
  ['join: an unknown sale', post('/sales/424242/waiting-room', '{"userId":"a"}'), 404, 'item_not_found'],
  ['join: a bad sale id', post('/sales/abc/waiting-room', '{"userId":"a"}'), 400, 'invalid_input'],
  [
    'join: a sale without a room',
    () => post(`/sales/${itemId}/waiting-room`, '{"userId":"a"}')(),
    404,
    'no_waiting_room',
  ],
  [
    'join: a room not open yet',
    () => post(`/sales/${notOpenItemId}/waiting-room`, '{"userId":"a"}')(),
    409,
    'room_not_open',
  ],
  ['status: no ticket', () => fetch(`${stack.url}/sales/${roomItemId}/waiting-room`), 400, 'invalid_input'],
  [
    'status: a forged ticket',
    () => roomFetch(roomItemId, `${ticket.slice(0, ticket.lastIndexOf('.'))}.AAAA`),
    403,
    'ticket_invalid',
  ],
  ["status: another sale's ticket", () => roomFetch(notOpenItemId, ticket), 403, 'ticket_invalid'],
  ['status: a pass offered as a ticket', () => roomFetch(roomItemId, pass), 403, 'ticket_invalid'],
  [
    'buying behind a room without a pass',
    () => post('/seckill', JSON.stringify({ userId: 'waiting-one', itemId: roomItemId }))(),
    403,
    'pass_required',
  ],
  [
    'a pass that is not a string',
    () => post('/seckill', JSON.stringify({ userId: 'waiting-one', itemId: roomItemId, pass: 7 }))(),
    400,
    'invalid_input',
  ],
  ['order id not a number', () => fetch(`${stack.url}/orders/abc`), 400, 'invalid_input'],
  ['unknown order', () => fetch(`${stack.url}/orders/12345`), 404, 'order_not_found'],
  ['order id past 2^63-1', () => fetch(`${stack.url}/orders/9223372036854775808`), 400, 'invalid_input'],
  ['item id of 19 nines', () => fetch(`${stack.url}/items/9999999999999999999`), 400, 'invalid_input'],
  ['malformed percent escape', () => fetch(`${stack.url}/orders/%ZZ`), 400, 'invalid_input'],
  ['unknown route', () => fetch(`${stack.url}/nope`), 404, 'route_not_found'],
];

const titled = cases.map(
  ([name, send, status, code]) => [`${name} → ${status} ${code}`, send, status, code] as Case,
);

test.each(titled)('%s, nothing changed', async (_name, send, status, code) => {
  const before = await snapshot();
  const res = await send();
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect(await snapshot()).toEqual(before);
});

test('a buyer who hangs up half-way through the body changes nothing, and the service answers the next', async () => {
  const before = await snapshot();
  const { port } = new URL(stack.url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    'POST /seckill HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"userId":"gone",',
  );
  // Most likely the server is reading the body by now; hung up earlier or later, nothing may change either way.
  await new Promise((resolve) => setTimeout(resolve, 50));
  socket.destroy();
  await once(socket, 'close');
  expect(await snapshot()).toEqual(before);
  expect((await stack.post('/seckill', { userId: 'after-hang-up', itemId })).status).toBe(201);
});

test('a charset and a query string are accepted: the purchase is made', async () => {
  const res = await fetch(`${stack.url}/seckill?source=k6`, {
    method: 'POST',
    headers: { 'content-type': 'Application/JSON; charset=UTF-8' },
    body: JSON.stringify({ userId: 'charset-buyer', itemId }),
  });
  expect(res.status).toBe(201);
  expect(await stack.service.db.order.count({ where: { userId: 'charset-buyer' } })).toBe(1);
});

test('the valid request next to them does change things (the snapshot can see a purchase)', async () => {
  const before = await snapshot();
  const res = await stack.post('/seckill', { userId: 'valid', itemId });
  expect(res.status).toBe(201);
  expect(await snapshot()).not.toEqual(before);
});
