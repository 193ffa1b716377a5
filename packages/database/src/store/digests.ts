import type { StoreChange } from './change';
import { bucketOf, recordFingerprint } from './hash';

/** Buckets of the key space compared by anti-entropy; every node of a mesh uses the same. */
export const BUCKETS = 4096;
const BYTES_PER_BUCKET = 12;

const scratch = new Uint32Array(2);

/**
 * Per bucket: the XOR of the 64-bit fingerprints of its records (tombstones included)
 * and how many records it holds. A write XORs the old record's fingerprint out and the
 * new one's in, so the digests are always current at O(1) per write; two nodes whose
 * bucket digests match hold the same versions in that bucket (up to a 2^-64 chance).
 */
export class BucketDigests {
  readonly low = new Uint32Array(BUCKETS);
  readonly high = new Uint32Array(BUCKETS);
  readonly counts = new Uint32Array(BUCKETS);

  /** Adds (+1) or removes (-1) one record's fingerprint. */
  toggle(key: string, hlc: number, nodeId: string, delta: 1 | -1): void {
    const bucket = bucketOf(key, BUCKETS);
    recordFingerprint(key, hlc, nodeId, scratch);
    this.low[bucket] = ((this.low[bucket] as number) ^ (scratch[0] as number)) >>> 0;
    this.high[bucket] = ((this.high[bucket] as number) ^ (scratch[1] as number)) >>> 0;
    this.counts[bucket] = (this.counts[bucket] as number) + delta;
  }

  /** Keeps the digests current: a listener of the store's changes. */
  readonly track = (change: StoreChange): void => {
    if (change.type === 'clear') {
      if (change.emptied) this.reset();
      return;
    }
    const { key, previous, record } = change;
    if (previous !== undefined) this.toggle(key, previous.hlc, previous.nodeId, -1);
    if (record !== undefined) this.toggle(key, record.hlc, record.nodeId, 1);
  };

  /** Copies another set of digests into this one (a summary read at start). */
  copyFrom(other: BucketDigests): void {
    this.low.set(other.low);
    this.high.set(other.high);
    this.counts.set(other.counts);
  }

  reset(): void {
    this.low.fill(0);
    this.high.fill(0);
    this.counts.fill(0);
  }

  /** 12 bytes per bucket: low, high, count, little-endian. */
  encode(): Buffer {
    const out = Buffer.allocUnsafe(BUCKETS * BYTES_PER_BUCKET);
    for (let b = 0; b < BUCKETS; b++) {
      out.writeUInt32LE(this.low[b] as number, b * BYTES_PER_BUCKET);
      out.writeUInt32LE(this.high[b] as number, b * BYTES_PER_BUCKET + 4);
      out.writeUInt32LE(this.counts[b] as number, b * BYTES_PER_BUCKET + 8);
    }
    return out;
  }

  /** The other side's digests, from `encode()`; throws on a wrong size. */
  static decode(bytes: Uint8Array): BucketDigests {
    if (bytes.length !== BUCKETS * BYTES_PER_BUCKET) {
      throw new Error(`digests must be ${BUCKETS * BYTES_PER_BUCKET} bytes (got ${bytes.length})`);
    }
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const digests = new BucketDigests();
    for (let b = 0; b < BUCKETS; b++) {
      digests.low[b] = view.readUInt32LE(b * BYTES_PER_BUCKET);
      digests.high[b] = view.readUInt32LE(b * BYTES_PER_BUCKET + 4);
      digests.counts[b] = view.readUInt32LE(b * BYTES_PER_BUCKET + 8);
    }
    return digests;
  }

  /** The buckets whose digest or count differ from `other`'s. */
  differing(other: BucketDigests): number[] {
    const buckets: number[] = [];
    for (let b = 0; b < BUCKETS; b++) {
      if (this.low[b] !== other.low[b] || this.high[b] !== other.high[b] || this.counts[b] !== other.counts[b]) {
        buckets.push(b);
      }
    }
    return buckets;
  }
}
