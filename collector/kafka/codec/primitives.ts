/**
 * The Kafka protocol's primitive types (kafka.apache.org/protocol#protocol_types), read and written big-endian:
 * int8/16/32/64, strings and bytes with int16/int32 lengths (-1 = null), arrays with an int32 count, and for
 * flexible versions the "compact" forms (unsigned varint length + 1) and tagged fields. Records inside a
 * RecordBatch use zigzag varints (codec/record-batch.ts).
 *
 * Every read is bounds-checked: a request that runs past its frame, or declares a count it cannot hold, throws
 * KafkaProtocolError and the connection answers nothing for it (it is closed: we cannot trust its framing).
 * int64 values are returned as JS numbers: offsets and timestamps stay far below 2^53; a larger one is refused.
 */

export class KafkaProtocolError extends Error {
  override readonly name = 'KafkaProtocolError';
}

export class KafkaReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.end - this.pos < n) throw new KafkaProtocolError(`request truncated: needed ${n} more bytes`);
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** An int64 that must fit a safe integer (offsets, timestamps, producer ids); -1 and other negatives allowed. */
  int64(): number {
    this.need(8);
    const v = Number(this.buf.readBigInt64BE(this.pos));
    this.pos += 8;
    if (!Number.isSafeInteger(v)) throw new KafkaProtocolError('int64 value out of the supported range');
    return v;
  }

  nullableString(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    this.need(length);
    const s = this.buf.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return s;
  }

  string(): string {
    const s = this.nullableString();
    if (s === null) throw new KafkaProtocolError('null where a string is required');
    return s;
  }

  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length < 0) return null;
    this.need(length);
    const b = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return b;
  }

  bytes(): Buffer {
    const b = this.nullableBytes();
    if (b === null) throw new KafkaProtocolError('null where bytes are required');
    return b;
  }

  /**
   * An int32-counted array; -1 (null) gives null. Each element takes at least `minElementBytes`, so a count the
   * frame cannot hold is refused before anything is allocated.
   */
  nullableArray<T>(element: (r: KafkaReader) => T, minElementBytes = 1): T[] | null {
    const count = this.int32();
    if (count < 0) return null;
    if (count * minElementBytes > this.remaining) throw new KafkaProtocolError(`array count ${count} is too large`);
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(element(this));
    return out;
  }

  array<T>(element: (r: KafkaReader) => T, minElementBytes = 1): T[] {
    return this.nullableArray(element, minElementBytes) ?? [];
  }

  uvarint(): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < 5; i++) {
      this.need(1);
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * multiplier;
      if (byte < 0x80) return result;
      multiplier *= 128;
    }
    throw new KafkaProtocolError('varint too long');
  }

  /** Flexible versions: an unsigned varint of length + 1; 0 is null. */
  compactNullableString(): string | null {
    const n = this.uvarint();
    if (n === 0) return null;
    const length = n - 1;
    this.need(length);
    const s = this.buf.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return s;
  }

  compactString(): string {
    const s = this.compactNullableString();
    if (s === null) throw new KafkaProtocolError('null where a string is required');
    return s;
  }

  /** Flexible versions: skips every tagged field (we define none). */
  skipTaggedFields(): void {
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint(); // tag
      const size = this.uvarint();
      this.need(size);
      this.pos += size;
    }
  }
}

/**
 * A growing output buffer; `finish()` returns the bytes written. Large payloads (fetched records) can be attached
 * without a copy (`attach`): `chunks()` then returns the bytes as a list to write one after the other.
 */
export class KafkaWriter {
  private buf: Buffer;
  pos = 0;
  /** Bytes before `buf`: finished pieces of `buf` and attached buffers, in order. */
  private readonly done: Buffer[] = [];
  private doneLength = 0;
  private readonly afterWrite: (() => void)[] = [];

  constructor(initialCapacity = 256) {
    this.buf = Buffer.allocUnsafe(initialCapacity);
  }

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let capacity = this.buf.length * 2;
    while (capacity < this.pos + n) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  int8(v: number): this {
    this.reserve(1);
    this.buf.writeInt8(v, this.pos++);
    return this;
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  int16(v: number): this {
    this.reserve(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    this.reserve(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  int64(v: number): this {
    this.reserve(8);
    this.buf.writeBigInt64BE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }

  nullableString(s: string | null): this {
    if (s === null) return this.int16(-1);
    const length = Buffer.byteLength(s);
    this.int16(length);
    this.reserve(length);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += length;
    return this;
  }

  string(s: string): this {
    return this.nullableString(s);
  }

  nullableBytes(b: Uint8Array | null): this {
    if (b === null) return this.int32(-1);
    this.int32(b.length);
    return this.raw(b);
  }

  raw(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  array<T>(items: readonly T[] | null, element: (w: this, item: T) => void): this {
    if (items === null) return this.int32(-1);
    this.int32(items.length);
    for (const item of items) element(this, item);
    return this;
  }

  uvarint(v: number): this {
    this.reserve(5);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
    return this;
  }

  compactArray<T>(items: readonly T[], element: (w: this, item: T) => void): this {
    this.uvarint(items.length + 1);
    for (const item of items) element(this, item);
    return this;
  }

  emptyTaggedFields(): this {
    return this.uvarint(0);
  }

  /** Appends `b` by reference (no copy): `b` must not change until the answer is written. */
  attach(b: Buffer): this {
    if (this.pos > 0) {
      this.done.push(this.buf.subarray(0, this.pos));
      this.doneLength += this.pos;
      this.buf = this.buf.subarray(this.pos);
      this.pos = 0;
    }
    this.done.push(b);
    this.doneLength += b.length;
    return this;
  }

  /**
   * Runs `fn` once the answer has been written to its socket (or the connection is gone): memory the attached
   * buffers point into may be reused from then on.
   */
  whenWritten(fn: () => void): this {
    this.afterWrite.push(fn);
    return this;
  }

  /** Called by the connection when the answer's bytes are written. */
  written(): void {
    for (const fn of this.afterWrite.splice(0)) fn();
  }

  /** Total bytes written and attached. */
  get length(): number {
    return this.doneLength + this.pos;
  }

  /** The bytes as a list of buffers, in order (no copy). */
  chunks(): Buffer[] {
    return this.pos > 0 ? [...this.done, this.buf.subarray(0, this.pos)] : [...this.done];
  }

  /** The bytes as one buffer (copied together if anything was attached). */
  finish(): Buffer {
    if (this.done.length === 0) return this.buf.subarray(0, this.pos);
    return Buffer.concat(this.chunks());
  }
}
