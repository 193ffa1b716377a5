import type { SyncReport } from '@meshkv/client';
import { StringDecoder } from 'node:string_decoder';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { decodePullAnswer, decodeVersionLine, fromWire, replicateBody, toWire, type WireRecord } from '../record/codec';
import { compareVersions } from '../record/version';
import { BUCKETS, BucketDigests } from '../store/digests';
import { bucketOf } from '../store/hash';
import type { ApplyOutcome, Store } from '../store/store';
import type { MeshTransport } from './transport';
import type { DigestsAnswer } from './wire';

/** Entries scanned between two yields to the event loop. */
const SCAN_SLICE = 2000;
/** A whole sync may take this many request timeouts (a bootstrap streams everything). */
const SESSION_TIMEOUTS = 30;

/**
 * One anti-entropy round with one peer, run by this node, both ways:
 *
 * 1. Exchange clear watermarks and bucket digests (48 KiB).
 * 2. For the buckets that differ, stream the peer's versions (one NDJSON line per
 *    record). Buckets this node holds nothing in come with values, so a new node
 *    bootstraps in this single stream. Otherwise each line is compared with the local
 *    version: newer there -> pulled (in pages), newer here -> pushed.
 * 3. Scan the local records of those buckets: any key the peer did not list is pushed.
 *
 * Bytes grow with the differing buckets, not with the data set.
 */
export class AntiEntropy {
  constructor(
    private readonly transport: MeshTransport,
    private readonly store: Store,
    private readonly timeoutMs: number,
    private readonly pageSize: number,
  ) {}

  async sync(url: string, onApply: (outcome: ApplyOutcome) => void): Promise<SyncReport> {
    const started = performance.now();
    let bytesIn = 0;
    let bytesOut = 0;
    let pulled = 0;
    let pushed = 0;

    const digestsRequest = { clear: this.store.clearWatermark ?? null };
    const answer = await this.transport.post<DigestsAnswer>(url, '/_mesh/digests', digestsRequest, this.timeoutMs);
    bytesOut += JSON.stringify(digestsRequest).length;
    bytesIn += answer.digests.length;
    if (answer.buckets !== BUCKETS) throw new Error(`the peer uses ${answer.buckets} buckets, this node ${BUCKETS}`);
    if (answer.clear !== null) onApply(this.store.applyClear(answer.clear, 'repaired'));
    const differing = this.store.digests.differing(BucketDigests.decode(Buffer.from(answer.digests, 'base64')));
    if (differing.length === 0) return { buckets: 0, pulled, pushed, bytesIn, bytesOut, ms: performance.now() - started };

    // 1: compare key by key; 2: held nothing here, so the peer sends its values outright.
    const wanted = new Uint8Array(BUCKETS);
    const full: number[] = [];
    for (const bucket of differing) {
      const empty = this.store.digests.counts[bucket] === 0;
      wanted[bucket] = empty ? 2 : 1;
      if (empty) full.push(bucket);
    }
    // Keys the peer listed in the buckets compared key by key: the rest of ours it lacks.
    const seen = new Set<string>();
    const toPull: string[] = [];
    const toPush: string[] = [];

    const pull = async (): Promise<void> => {
      const keys = toPull.splice(0);
      const request = { keys };
      bytesOut += JSON.stringify(request).length;
      const text = await this.transport.stream(url, '/_mesh/pull', request, this.timeoutMs, readText);
      bytesIn += text.length;
      for (const wire of decodePullAnswer(JSON.parse(text))) {
        onApply(this.store.apply(wire[0], fromWire(wire), 'repaired'));
        pulled++;
      }
    };

    const versionsRequest = { buckets: differing, full };
    bytesOut += JSON.stringify(versionsRequest).length;
    await this.transport.stream(url, '/_mesh/versions', versionsRequest, this.timeoutMs * SESSION_TIMEOUTS, async (body) => {
      const decoder = new StringDecoder('utf8');
      let rest = '';
      for await (const chunk of body) {
        bytesIn += chunk.length;
        const text = rest + decoder.write(chunk);
        const lines = text.split('\n');
        rest = lines.pop() as string;
        for (const line of lines) {
          if (line === '') continue;
          const { key, head, record } = decodeVersionLine(line);
          if (record !== undefined) {
            onApply(this.store.apply(key, record, 'repaired'));
            pulled++;
            continue;
          }
          const local = this.store.head(key);
          seen.add(key);
          const order = local === undefined ? -1 : compareVersions(local, head);
          if (order < 0) toPull.push(key);
          else if (order > 0) toPush.push(key);
          if (toPull.length >= this.pageSize) await pull();
        }
      }
      if (rest !== '') throw new Error('the versions stream ended in the middle of a line');
    });
    if (toPull.length > 0) await pull();

    let scanned = 0;
    for (const [key] of this.store.heads()) {
      if (++scanned % SCAN_SLICE === 0) await yieldToLoop();
      // Keys in a "full" bucket came from the peer or are new writes the outboxes carry.
      if (wanted[bucketOf(key, BUCKETS)] === 1 && !seen.has(key)) toPush.push(key);
    }
    for (let i = 0; i < toPush.length; i += this.pageSize) {
      const records: WireRecord[] = [];
      for (const key of toPush.slice(i, i + this.pageSize)) {
        const record = this.store.getRecord(key);
        if (record !== undefined) records.push(toWire(key, record));
      }
      const request = replicateBody(records, null, true);
      bytesOut += JSON.stringify(request).length;
      await this.transport.post(url, '/_mesh/replicate', request, this.timeoutMs);
      pushed += records.length;
    }
    return { buckets: differing.length, pulled, pushed, bytesIn, bytesOut, ms: performance.now() - started };
  }
}

/** A whole answer as text (its chunks joined before decoding, so no character is split). */
async function readText(chunks: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}
