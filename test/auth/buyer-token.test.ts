// BUYER_AUTH=token: the buyer is the subject of a signed token. Forged, expired and other users' tokens are refused
// (401, or 404 for someone else's order) and change nothing in Redis or PostgreSQL.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { ConfigError, loadConfig } from '../../src/config';
import { mintBuyerToken } from '../../src/http/buyer-token';
import { driveCrowd } from '../../src/sim/load-driver';
import { startStack, type TestStack } from '../support/stack';
import { stateSnapshot } from '../support/snapshot';

const SECRET = randomBytes(32).toString('hex');
let stack: TestStack;
let itemId: string;
let aliceOrder: string;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const as = (userId: string) => bearer(mintBuyerToken(SECRET, userId));

async function send(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(stack.url + path, {
    method,
    headers: method === 'POST' ? { 'content-type': 'application/json', ...headers } : headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  stack = await startStack(10, { env: { BUYER_AUTH: 'token', BUYER_TOKEN_SECRET: SECRET } });
  ({ itemId } = await stack.createSale({ name: 'tokens', stock: 5, segments: 2 }));
  const res = await send('POST', '/seckill', as('alice'), { itemId });
  expect(res).toEqual({ status: 201, body: { status: 'ordered', orderId: expect.any(String) } });
  aliceOrder = res.body.orderId;
});
afterAll(async () => {
  await stack?.stop();
});

test('the token subject is the buyer: the order belongs to alice, with no userId in the body', async () => {
  const order = await stack.service.db.order.findUniqueOrThrow({ where: { id: BigInt(aliceOrder) } });
  expect(order.userId).toBe('alice');
  // A token signed by another library (jose) works too, and a body userId equal to the subject is accepted.
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('carol')
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));
  expect((await send('POST', '/seckill', bearer(token), { userId: 'carol', itemId })).status).toBe(201);
});

const sign = (claims: { sub?: string; exp?: number }, secret = SECRET, alg = 'HS256') => {
  const jwt = new SignJWT({}).setProtectedHeader({ alg });
  if (claims.sub) jwt.setSubject(claims.sub);
  if (claims.exp) jwt.setExpirationTime(claims.exp);
  return jwt.sign(new TextEncoder().encode(secret));
};
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;
const unsigned = (sub: string) =>
  `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
    JSON.stringify({ sub, exp: inAnHour() }),
  ).toString('base64url')}.`;

type BadToken = [name: string, headers: () => Promise<Record<string, string>>];
const refusedTokens: BadToken[] = [
  ['no Authorization header', async () => ({})],
  [
    'forged (signed with another secret)',
    async () => bearer(await sign({ sub: 'bob', exp: inAnHour() }, 'x'.repeat(40))),
  ],
  ['expired', async () => bearer(mintBuyerToken(SECRET, 'bob', 60, Math.floor(Date.now() / 1000) - 120))],
  ['without exp', async () => bearer(await sign({ sub: 'bob' }))],
  ['without sub', async () => bearer(await sign({ exp: inAnHour() }))],
  ['alg none', async () => bearer(unsigned('bob'))],
  ['sub that is not a valid userId', async () => bearer(await sign({ sub: 'b o b', exp: inAnHour() }))],
  ['not a JWT', async () => bearer('abc.def')],
  ['Basic scheme', async () => ({ authorization: `Basic ${mintBuyerToken(SECRET, 'bob')}` })],
];

const routes: [string, 'GET' | 'POST', () => string, unknown][] = [
  [
    'POST /seckill',
    'POST',
    () => '/seckill',
    {
      get itemId() {
        return itemId;
      },
    },
  ],
  ['GET /orders/:id', 'GET', () => `/orders/${aliceOrder}`, undefined],
  ['POST /orders/:id/pay', 'POST', () => `/orders/${aliceOrder}/pay`, {}],
];

describe.each(routes)('%s', (_name, method, path, body) => {
  test.each(refusedTokens)('%s → 401 unauthorized, nothing changed', async (_case, headers) => {
    const before = await stateSnapshot(stack.service);
    const res = await send(method, path(), await headers(), body === undefined ? undefined : { ...body });
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'unauthorized', message: expect.any(String) });
    expect(await stateSnapshot(stack.service)).toEqual(before);
  });
});

test("another user's token: alice's order is 404 to bob, exactly like an order that does not exist", async () => {
  const before = await stateSnapshot(stack.service);
  const read = await send('GET', `/orders/${aliceOrder}`, as('bob'));
  const pay = await send('POST', `/orders/${aliceOrder}/pay`, as('bob'));
  const missing = await send('GET', '/orders/12345', as('bob'));
  for (const res of [read, pay, missing]) {
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('order_not_found');
  }
  expect(await stateSnapshot(stack.service)).toEqual(before);
});

test('a body userId other than the subject is 403 forbidden and changes nothing', async () => {
  const before = await stateSnapshot(stack.service);
  const buy = await send('POST', '/seckill', as('bob'), { userId: 'alice', itemId });
  const pay = await send('POST', `/orders/${aliceOrder}/pay`, as('bob'), { userId: 'alice' });
  for (const res of [buy, pay]) {
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
  }
  expect(await stateSnapshot(stack.service)).toEqual(before);
});

test('the owner reads and pays the order (the refusals above are not a broken route)', async () => {
  const read = await send('GET', `/orders/${aliceOrder}`, as('alice'));
  expect(read.status).toBe(200);
  expect(read.body).toMatchObject({ orderId: aliceOrder, userId: 'alice', status: 'PENDING_PAYMENT' });
  const pay = await send('POST', `/orders/${aliceOrder}/pay`, as('alice'));
  expect(pay.status).toBe(200);
  expect(pay.body.status).toBe('PAID');
});

test('token mode needs a secret of at least 32 characters', () => {
  expect(() => loadConfig({ BUYER_AUTH: 'token' })).toThrow(ConfigError);
  expect(() => loadConfig({ BUYER_AUTH: 'token', BUYER_TOKEN_SECRET: 'short' })).toThrow(/32 characters/);
  expect(loadConfig({ BUYER_AUTH: 'token', BUYER_TOKEN_SECRET: SECRET }).buyerAuth).toEqual({
    mode: 'token',
    secret: SECRET,
  });
  expect(loadConfig({}).buyerAuth).toEqual({ mode: 'open' });
});

test("the simulator's load driver mints a token per buyer: every answer counted, the orders are the crowd's", async () => {
  const { itemId: crowdItem } = await stack.createSale({ name: 'crowd', stock: 10, segments: 2 });
  const result = await driveCrowd({
    url: stack.url,
    itemId: crowdItem,
    users: 30,
    requests: 30,
    duplicateRatio: 0,
    connections: 8,
    userPrefix: 'sim',
    authorize: (userId) => `Bearer ${mintBuyerToken(SECRET, userId)}`,
  });
  expect(result.outcomes).toMatchObject({ ordered: 10, errors: 0, rate_limited: 0, duplicate: 0 });
  // The other 20 are told it is gone: sold_out, or busy while the last units were still held by purchases awaiting
  // their commit ("sold out" is only said when nothing is held).
  expect(result.outcomes.sold_out + result.outcomes.busy).toBe(20);
  const owners = await stack.service.db.order.findMany({ where: { itemId: BigInt(crowdItem) } });
  expect(owners.map((order) => order.userId).sort()).toEqual(
    result.orders.map((order) => order.userId).sort(),
  );
  expect(owners.every((order) => /^sim\d+$/.test(order.userId))).toBe(true);
});

test('the same crowd without tokens is refused whole (the driver really sent them above)', async () => {
  const { itemId: crowdItem } = await stack.createSale({ name: 'tokenless', stock: 5, segments: 1 });
  const result = await driveCrowd({
    url: stack.url,
    itemId: crowdItem,
    users: 5,
    requests: 5,
    duplicateRatio: 0,
    connections: 2,
  });
  expect(result.outcomes).toMatchObject({ ordered: 0, errors: 5 });
});

test("token mode and a waiting room: the token's subject joins, and its pass buys for nobody else", async () => {
  const { itemId: roomItem } = await stack.createSale({
    name: 'tokens behind a room',
    stock: 5,
    admission: { mode: 'fifo', ratePerSec: 100 },
  });
  expect((await send('POST', `/sales/${roomItem}/waiting-room`, {}, {})).status).toBe(401);
  const joined = await send('POST', `/sales/${roomItem}/waiting-room`, as('dave'), {});
  expect(joined.status).toBe(200);
  let status = joined.body;
  for (let i = 0; i < 100 && status.state !== 'admitted'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    status = (
      await send('GET', `/sales/${roomItem}/waiting-room`, { 'waiting-room-ticket': joined.body.ticket })
    ).body;
  }
  const before = await stateSnapshot(stack.service);
  const stolen = await send('POST', '/seckill', as('erin'), { itemId: roomItem, pass: status.pass });
  expect([stolen.status, stolen.body.error.code]).toEqual([403, 'pass_not_yours']);
  expect(await stateSnapshot(stack.service)).toEqual(before);
  const bought = await send('POST', '/seckill', as('dave'), { itemId: roomItem, pass: status.pass });
  expect(bought.body.status).toBe('ordered');
});
