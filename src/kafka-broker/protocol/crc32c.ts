// Hand-written: no maintained pure-JS CRC32C package is in the pinned dependencies, and it is 20 lines.
const CASTAGNOLI_REVERSED = 0x82f63b78;

const TABLE = new Int32Array(256).map((_, index) => {
  let crc = index;
  for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ CASTAGNOLI_REVERSED : crc >>> 1;
  return crc;
});

/** CRC-32C (Castagnoli) as used by RecordBatch v2, over buffer[start, end). */
export function crc32c(buffer: Buffer, start = 0, end = buffer.length): number {
  let crc = -1;
  for (let i = start; i < end; i++) crc = TABLE[(crc ^ buffer[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
