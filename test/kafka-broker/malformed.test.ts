import net from 'node:net';
import {
  collect,
  messages,
  newConsumer,
  newProducer,
  startTestBroker,
  waitFor,
  type TestBroker,
} from './helpers';

let test_: TestBroker;

beforeAll(async () => {
  test_ = await startTestBroker();
});

afterAll(() => test_.broker.stop());

interface Exchange {
  closed: boolean;
  response: Buffer;
}

/** Sends raw bytes; resolves with what came back and whether the broker closed the connection. */
function exchange(bytes: Buffer, waitMs = 2000): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(test_.broker.port, '127.0.0.1', () => socket.write(bytes));
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ closed, response: Buffer.concat(chunks) });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
  });
}

function frame(body: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

/** Request header v1: api key, version, correlation id 1, client id "raw". */
function header(apiKey: number, version: number): Buffer {
  const bytes = Buffer.alloc(8 + 2 + 3);
  bytes.writeInt16BE(apiKey, 0);
  bytes.writeInt16BE(version, 2);
  bytes.writeInt32BE(1, 4);
  bytes.writeInt16BE(3, 8);
  bytes.write('raw', 10);
  return bytes;
}

function int32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(value);
  return bytes;
}

/** After each bad input, a kafkajs client must still produce and consume on the same broker. */
async function expectBrokerStillServes(label: string) {
  const producer = newProducer(test_.kafka);
  await producer.connect();
  await producer.send({ topic: `after-${label}`, messages: messages(label, 3) });
  await producer.disconnect();
  const consumer = newConsumer(test_.kafka, `group-${label}`);
  const received = await collect(consumer, `after-${label}`);
  await waitFor(() => received.length === 3, `messages after ${label}`);
  await consumer.disconnect();
}

const closingCases: [string, () => Buffer][] = [
  ['negative-frame-size', () => int32(-5)],
  ['oversized-frame', () => Buffer.concat([int32(200 * 1024 * 1024), Buffer.alloc(16)])],
  ['unknown-api-key', () => frame(header(999, 0))],
  ['unsupported-metadata-version', () => frame(Buffer.concat([header(3, 99), int32(-1)]))],
  ['produce-below-v3', () => frame(Buffer.concat([header(0, 2), Buffer.alloc(12)]))],
  // Produce v7 header, then a body that stops inside the topic array.
  [
    'truncated-request',
    () =>
      frame(
        Buffer.concat([
          header(0, 7),
          Buffer.from([0xff, 0xff, 0, 1, 0, 0, 0x13, 0x88, 0, 0, 0, 1, 0, 9]),
          Buffer.from('tru'),
        ]),
      ),
  ],
  ['garbage-bytes', () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
  [
    'garbage-body',
    () => frame(Buffer.concat([header(3, 1), Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5])])),
  ],
];

test.each(closingCases)(
  '%s: the connection is closed, one line logged, others keep working',
  async (label, bytes) => {
    const warningsBefore = test_.warnings.length;
    const { closed } = await exchange(bytes());
    expect(closed).toBe(true);
    await waitFor(() => test_.warnings.length === warningsBefore + 1, 'one log line');
    expect(test_.warnings[warningsBefore]).toMatch(/closed connection after bad request/);
    await expectBrokerStillServes(label);
  },
);

test('ApiVersions with a too-high version gets error 35 and the table, and the connection stays usable', async () => {
  const tooNew = frame(header(18, 99));
  const supported = frame(header(18, 2));
  const { closed, response } = await exchange(Buffer.concat([tooNew, supported]), 1000);
  expect(closed).toBe(false);
  // First answer: size, correlation id, error 35, [key, min, max] in the v0 layout.
  expect(response.readInt16BE(8)).toBe(35);
  const apiCount = response.readInt32BE(10);
  expect(apiCount).toBe(17);
  const second = response.subarray(4 + response.readInt32BE(0));
  expect(second.readInt16BE(8)).toBe(0);
  await expectBrokerStillServes('api-versions-35');
});
