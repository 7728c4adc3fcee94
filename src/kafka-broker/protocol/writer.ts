/** Big-endian response writer that grows its buffer as needed (reserve first: it may swap the buffer). */
export class Writer {
  private buffer = Buffer.allocUnsafe(256);
  private offset = 0;

  private reserve(size: number): number {
    if (this.offset + size > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.offset + size));
      this.buffer.copy(grown, 0, 0, this.offset);
      this.buffer = grown;
    }
    const at = this.offset;
    this.offset += size;
    return at;
  }

  int8(value: number): this {
    const at = this.reserve(1);
    this.buffer.writeInt8(value, at);
    return this;
  }

  bool(value: boolean): this {
    return this.int8(value ? 1 : 0);
  }

  int16(value: number): this {
    const at = this.reserve(2);
    this.buffer.writeInt16BE(value, at);
    return this;
  }

  int32(value: number): this {
    const at = this.reserve(4);
    this.buffer.writeInt32BE(value, at);
    return this;
  }

  int64(value: number): this {
    const at = this.reserve(8);
    this.buffer.writeBigInt64BE(BigInt(value), at);
    return this;
  }

  uvarint(value: number): this {
    let rest = value;
    while (rest >= 0x80) {
      const at = this.reserve(1);
      this.buffer.writeUInt8((rest & 0x7f) | 0x80, at);
      rest = Math.floor(rest / 128);
    }
    const at = this.reserve(1);
    this.buffer.writeUInt8(rest, at);
    return this;
  }

  nullableString(value: string | null): this {
    if (value === null) return this.int16(-1);
    const length = Buffer.byteLength(value);
    this.int16(length);
    const at = this.reserve(length);
    this.buffer.write(value, at);
    return this;
  }

  string(value: string): this {
    return this.nullableString(value);
  }

  raw(value: Buffer): this {
    const at = this.reserve(value.length);
    value.copy(this.buffer, at);
    return this;
  }

  bytes(value: Buffer): this {
    return this.int32(value.length).raw(value);
  }

  array<T>(items: readonly T[], writeItem: (writer: Writer, item: T, index: number) => void): this {
    this.int32(items.length);
    items.forEach((item, index) => writeItem(this, item, index));
    return this;
  }

  int32Array(items: readonly number[]): this {
    return this.array(items, (writer, item) => writer.int32(item));
  }

  /** Flexible array count (n + 1), used only by ApiVersions v3. */
  compactArray<T>(items: readonly T[], writeItem: (writer: Writer, item: T) => void): this {
    this.uvarint(items.length + 1);
    for (const item of items) writeItem(this, item);
    return this;
  }

  emptyTaggedFields(): this {
    return this.uvarint(0);
  }

  toBuffer(): Buffer {
    return this.buffer.subarray(0, this.offset);
  }
}
