import { crc32c } from '../../src/kafka-broker/protocol/crc32c';
import { FrameDecoder } from '../../src/kafka-broker/protocol/frame-decoder';
import { Reader } from '../../src/kafka-broker/protocol/reader';
import { Writer } from '../../src/kafka-broker/protocol/writer';

test('crc32c matches the standard check value', () => {
  expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
});

test('frames split at every byte boundary are reassembled', () => {
  const payloads = [Buffer.from('first frame'), Buffer.alloc(0), Buffer.alloc(70_000, 7)];
  const stream = Buffer.concat(
    payloads.map((payload) => Buffer.concat([new Writer().int32(payload.length).toBuffer(), payload])),
  );
  const decoder = new FrameDecoder(1024 * 1024);
  const frames = [...stream].flatMap((byte) => decoder.push(Buffer.from([byte])));
  expect(frames).toEqual(payloads);
});

test('writer and reader agree, and reading past the end throws', () => {
  const bytes = new Writer()
    .int8(-1)
    .int16(-2)
    .int32(-3)
    .int64(2 ** 40)
    .string('héllo')
    .nullableString(null)
    .bytes(Buffer.from([1, 2]))
    .uvarint(300)
    .array([5, 6], (writer, item) => writer.int32(item))
    .toBuffer();
  const reader = new Reader(bytes);
  expect([reader.int8(), reader.int16(), reader.int32(), reader.int64()]).toEqual([-1, -2, -3, 2 ** 40]);
  expect([reader.string(), reader.nullableString()]).toEqual(['héllo', null]);
  expect(reader.bytes()).toEqual(Buffer.from([1, 2]));
  expect(reader.uvarint()).toBe(300);
  expect(reader.array((item) => item.int32())).toEqual([5, 6]);
  expect(() => reader.int8()).toThrow(/need 1 bytes/);
});
