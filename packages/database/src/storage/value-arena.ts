const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * UTF-8 bytes of many small strings, kept outside the JavaScript heap in a few large
 * buffers. A string on the V8 heap costs a 16-byte header plus alignment, and every byte
 * on the heap also costs the collector's headroom; here a 100-character value costs 100
 * bytes.
 *
 * Writes go at the end of the newest chunk (bump allocation). Space freed by an
 * overwrite or a delete is only counted; the owner compacts when `shouldCompact()` says
 * that garbage outweighs live data, by copying its live values into a fresh arena with
 * `copyFrom`. Positions are plain numbers: `chunk * chunkBytes + offset`.
 */
export class ValueArena {
  private chunks: Buffer[] = [];
  private current: Buffer | undefined;
  private used = 0;
  private live = 0;
  private garbage = 0;

  constructor(readonly chunkBytes = DEFAULT_CHUNK_BYTES) {}

  /** The longest string (in UTF-16 code units) that `write` takes; longer ones go elsewhere. */
  get maxChars(): number {
    return Math.floor(this.chunkBytes / 3);
  }

  get liveBytes(): number {
    return this.live;
  }

  get allocatedBytes(): number {
    return this.chunks.length * this.chunkBytes;
  }

  /**
   * Stores `text` (well-formed, at most `maxChars` long) and returns its position; its
   * byte length is `lastLength`.
   */
  write(text: string): number {
    // A UTF-16 code unit never needs more than 3 bytes of UTF-8.
    if (this.current === undefined || this.chunkBytes - this.used < text.length * 3) this.startChunk();
    const chunk = this.current as Buffer;
    const offset = this.used;
    const length = chunk.write(text, offset, 'utf8');
    this.used += length;
    this.live += length;
    this.lastLength = length;
    return (this.chunks.length - 1) * this.chunkBytes + offset;
  }

  /** Byte length of the string the last `write` stored. */
  lastLength = 0;

  read(position: number, length: number): string {
    const chunk = this.chunks[Math.floor(position / this.chunkBytes)] as Buffer;
    const start = position % this.chunkBytes;
    return chunk.toString('utf8', start, start + length);
  }

  /** Marks `length` bytes as no longer used. */
  release(length: number): void {
    this.live -= length;
    this.garbage += length;
  }

  /** True when a compaction would give back at least half of what is allocated. */
  shouldCompact(): boolean {
    return this.garbage > this.chunkBytes && this.garbage > this.live;
  }

  /** Copies `length` bytes at `position` of `source` into this arena; returns the new position. */
  copyFrom(source: ValueArena, position: number, length: number): number {
    if (this.current === undefined || this.chunkBytes - this.used < length) this.startChunk();
    const from = source.chunks[Math.floor(position / source.chunkBytes)] as Buffer;
    const start = position % source.chunkBytes;
    from.copy(this.current as Buffer, this.used, start, start + length);
    const offset = this.used;
    this.used += length;
    this.live += length;
    return (this.chunks.length - 1) * this.chunkBytes + offset;
  }

  private startChunk(): void {
    if (this.current !== undefined) this.garbage += this.chunkBytes - this.used;
    this.current = Buffer.allocUnsafeSlow(this.chunkBytes);
    this.chunks.push(this.current);
    this.used = 0;
  }
}
