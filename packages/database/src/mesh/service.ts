import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ApiError } from '../errors';
import { encodeVersionLine, encodeVersionRecordLine, PULL_ANSWER_OPENING, pullAnswerEnd, toWire } from '../record/codec';
import { BUCKETS } from '../store/digests';
import { bucketOf } from '../store/hash';
import type { Store } from '../store/store';
import type { Mesh } from './mesh';
import { NKVD_HOST } from './nkvd-ping';
import type { ReceiveOutcome } from './replicator';
import { type DigestsAnswer, readDigestsRequest, readPing, readPublish, readPullRequest, readReplicate, readVersionsRequest, type VersionsRequest } from './wire';

/** Hands a topic message from a peer to this node's subscribers; returns how many it reached. */
export type Deliver = (topic: string, message: string) => number;

/** Characters of NDJSON per chunk of a versions stream. */
const STREAM_CHUNK_CHARS = 64 * 1024;
/** Records scanned between two yields to the event loop. */
const SCAN_SLICE = 2000;

/**
 * The receiving side of the mesh, whatever carries the requests (HTTP routes, or the
 * in-memory network): each method takes a parsed JSON body, checks it (400 MALFORMED_BODY
 * otherwise, thrown as an ApiError) and answers with a JSON-ready value.
 */
export class MeshService {
  constructor(
    private readonly mesh: Mesh,
    private readonly store: Store,
    private readonly deliver: Deliver = () => 0,
  ) {}

  /** POST /_mesh/publish: topic messages published on the sender, for subscribers here (never sent on). */
  publish(body: unknown): { readonly delivered: number } {
    let delivered = 0;
    for (const [topic, message] of readPublish(body).messages) delivered += this.deliver(topic, message);
    return { delivered };
  }

  /** POST /ping: a peer introduces itself and its peers; the answer is ours. */
  ping(body: unknown): ReturnType<Mesh['onPing']> {
    return this.mesh.onPing(readPing(body));
  }

  /** GET /ping?nodes=host:port|…, the nkvd form. */
  nkvdPing(nodes: string | undefined): ReturnType<Mesh['onNkvdPing']> {
    const hosts = nodes === undefined || nodes === '' ? [] : nodes.split('|');
    const bad = hosts.find((host) => !NKVD_HOST.test(host));
    if (bad !== undefined) throw new ApiError('MALFORMED_QUERY', `nodes must be host:port entries separated by | (got "${bad.slice(0, 100)}").`);
    return this.mesh.onNkvdPing(hosts);
  }

  /** POST /_mesh/replicate: answered once on disk when writes wait for it (then w=all means that too). */
  async replicate(body: unknown): Promise<ReceiveOutcome> {
    const outcome = this.mesh.receive(readReplicate(body));
    await this.store.durable();
    return outcome;
  }

  /** POST /_mesh/digests: the caller's clear watermark in, our digests and watermark out. */
  digests(body: unknown): DigestsAnswer {
    const request = readDigestsRequest(body);
    if (request.clear !== null) this.store.applyClear(request.clear, 'repaired');
    return { buckets: BUCKETS, digests: this.store.digests.encode().toString('base64'), clear: this.store.clearWatermark ?? null };
  }

  /** POST /_mesh/versions: the versions (and values, for `full` buckets) of the buckets asked for, as NDJSON chunks. */
  versions(body: unknown): AsyncIterable<string> {
    return this.versionChunks(readVersionsRequest(body));
  }

  /**
   * POST /_mesh/pull: the records of the keys asked for that exist, as the JSON text of a
   * PullAnswer in chunks, yielding to the event loop between slices of keys: a pull of
   * 100,000 large records neither blocks the node nor sits in memory as one string.
   */
  pull(body: unknown): AsyncIterable<string> {
    return this.pullChunks(readPullRequest(body).keys);
  }

  private async *pullChunks(keys: readonly string[]): AsyncGenerator<string> {
    let chunk = PULL_ANSWER_OPENING;
    let first = true;
    let anyExpires = false;
    for (let index = 0; index < keys.length; index++) {
      if (index > 0 && index % SCAN_SLICE === 0) await yieldToLoop();
      const key = keys[index] as string;
      const record = this.store.getRecord(key);
      if (record === undefined) continue;
      if (record.expiresAt !== undefined) anyExpires = true;
      chunk += (first ? '' : ',') + JSON.stringify(toWire(key, record));
      first = false;
      if (chunk.length >= STREAM_CHUNK_CHARS) {
        yield chunk;
        chunk = '';
      }
    }
    yield chunk + pullAnswerEnd(anyExpires);
  }

  private async *versionChunks(request: VersionsRequest): AsyncGenerator<string> {
    const wanted = new Uint8Array(BUCKETS);
    for (const bucket of request.buckets) wanted[bucket] = 1;
    for (const bucket of request.full) wanted[bucket] = 2;
    let chunk = '';
    let scanned = 0;
    for (const [key, head] of this.store.heads()) {
      if (++scanned % SCAN_SLICE === 0) await yieldToLoop();
      const want = wanted[bucketOf(key, BUCKETS)];
      if (want === 0) continue;
      const record = want === 2 ? this.store.getRecord(key) : undefined;
      chunk += record === undefined ? encodeVersionLine(key, head) : encodeVersionRecordLine(key, record);
      if (chunk.length >= STREAM_CHUNK_CHARS) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk !== '') yield chunk;
  }
}
