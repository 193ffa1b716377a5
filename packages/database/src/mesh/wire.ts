import { ApiError } from '../errors';
import { decodeReplicateBody, decodeVersion, isHlc, isNodeId, RecordCodecError, type ReplicateBody } from '../record/codec';
import type { Version } from '../record/version';
import { BUCKETS } from '../store/digests';
import type { NodeInfo } from './membership';
import type { PublishBody } from './topic-relay';

/**
 * The bodies of the mesh routes, and checks that turn anything else into a 400. A peer
 * is trusted to be a MeshKV node (it knows the secret), not to be bug-free: nothing it
 * sends can crash a node or store a malformed record. Records and their bodies are
 * encoded by the record codec (record/codec.ts); this file reads the rest.
 */

export interface PingBody {
  readonly node: NodeInfo;
  readonly peers: readonly { readonly url: string }[];
  /** The sender's wall clock when it sent this (ms since the epoch); absent from older nodes. */
  readonly time?: number;
  /** What the sender holds of the node at `url` (the one it pings, or answers): see Membership.seen. */
  readonly seen?: { readonly url: string; readonly nodeId: string; readonly incarnation: number };
}

export interface DigestsRequest {
  readonly clear: Version | null;
}

export interface DigestsAnswer {
  readonly buckets: number;
  /** BucketDigests.encode(), base64. */
  readonly digests: string;
  readonly clear: Version | null;
}

export interface VersionsRequest {
  /** Buckets whose versions the caller wants: lines `[key, hlc, nodeId, tombstone]`. */
  readonly buckets: readonly number[];
  /** Of those, buckets the caller holds nothing in: lines also carry the value (5th). */
  readonly full: readonly number[];
}

export interface PullRequest {
  readonly keys: readonly string[];
}

const MAX_URL = 2048;

function bad(what: string): ApiError {
  return new ApiError('MALFORMED_BODY', `The request body is not the JSON this route takes: ${what}.`);
}

function tooMany(what: string, max: number): ApiError {
  return new ApiError('PAYLOAD_TOO_LARGE', `A mesh request carries at most ${max} ${what}: send them in several requests.`, { max });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isPeerUrl(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_URL && /^https?:\/\/[^/?#\s]+$/i.test(value);
}

/** Runs a codec decoder; what it refuses is a 400 MALFORMED_BODY naming the problem. */
function decoded<T>(decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof RecordCodecError) throw bad(error.message);
    throw error;
  }
}

export function readNodeInfo(value: unknown): NodeInfo {
  if (
    !isObject(value) ||
    !isNodeId(value.nodeId) ||
    !isPeerUrl(value.url) ||
    !isHlc(value.incarnation) ||
    typeof value.ready !== 'boolean'
  ) {
    throw bad('node must be {nodeId, url, incarnation, ready}');
  }
  const info = { nodeId: value.nodeId, url: value.url, incarnation: value.incarnation, ready: value.ready };
  const limits = readLimits(value.limits);
  const load = readLoad(value.load);
  return { ...info, ...(value.leaving === true ? { leaving: true } : {}), ...(limits === undefined ? {} : { limits }), ...(load === undefined ? {} : { load }) };
}

const LOAD_FIELDS = ['records', 'outbox', 'reads', 'writes', 'lagCount', 'lagSum'] as const;

/** A node's figures; anything unreadable is taken as not said (they are only shown). */
function readLoad(value: unknown): NodeInfo['load'] {
  if (!isObject(value)) return undefined;
  for (const field of LOAD_FIELDS) {
    const figure = value[field];
    if (typeof figure !== 'number' || !Number.isFinite(figure) || figure < 0) return undefined;
  }
  const figures = value as Record<(typeof LOAD_FIELDS)[number], number>;
  return { records: figures.records, outbox: figures.outbox, reads: figures.reads, writes: figures.writes, lagCount: figures.lagCount, lagSum: figures.lagSum };
}

/** A node's limits; anything unreadable is taken as not said (an older or odd node). */
function readLimits(value: unknown): NodeInfo['limits'] {
  if (!isObject(value)) return undefined;
  const { maxKeyLength, maxValueLength, storage } = value;
  if (!Number.isSafeInteger(maxKeyLength) || !Number.isSafeInteger(maxValueLength) || typeof storage !== 'string' || storage.length > 32) return undefined;
  return { maxKeyLength: maxKeyLength as number, maxValueLength: maxValueLength as number, storage };
}

function readSeen(value: unknown): PingBody['seen'] {
  if (value === undefined) return undefined;
  if (!isObject(value) || !isPeerUrl(value.url) || !isNodeId(value.nodeId) || !isHlc(value.incarnation)) throw bad('seen must be {url, nodeId, incarnation}');
  return { url: value.url, nodeId: value.nodeId, incarnation: value.incarnation };
}

export function readPing(body: unknown): PingBody {
  if (!isObject(body)) throw bad('expected an object');
  // The size first: a flood is refused before any of it is read.
  if (Array.isArray(body.peers) && body.peers.length > MAX_PING_PEERS) throw tooMany('peers', MAX_PING_PEERS);
  const node = readNodeInfo(body.node);
  const peers: { url: string }[] = [];
  if (body.peers !== undefined) {
    if (!Array.isArray(body.peers)) throw bad('peers must be a list');
    for (const peer of body.peers as unknown[]) {
      if (!isObject(peer) || !isPeerUrl(peer.url)) throw bad('each peer must have a url');
      peers.push({ url: peer.url });
    }
  }
  const time = typeof body.time === 'number' && Number.isFinite(body.time) ? body.time : undefined;
  const seen = readSeen(body.seen);
  return { node, peers, ...(time === undefined ? {} : { time }), ...(seen === undefined ? {} : { seen }) };
}

export function readReplicate(body: unknown): ReplicateBody {
  if (isObject(body) && Array.isArray(body.records) && body.records.length > MAX_BATCH_RECORDS) throw tooMany('records', MAX_BATCH_RECORDS);
  return decoded(() => decodeReplicateBody(body));
}

export function readDigestsRequest(body: unknown): DigestsRequest {
  if (!isObject(body)) throw bad('expected {clear}');
  return { clear: decoded(() => decodeVersion(body.clear, 'clear')) };
}

function readBuckets(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || value.length > BUCKETS) throw bad(`${what} must be a list of buckets`);
  for (const bucket of value as unknown[]) {
    if (typeof bucket !== 'number' || !Number.isInteger(bucket) || bucket < 0 || bucket >= BUCKETS) {
      throw bad(`${what} must hold bucket numbers from 0 to ${BUCKETS - 1}`);
    }
  }
  return value as number[];
}

export function readVersionsRequest(body: unknown): VersionsRequest {
  if (!isObject(body)) throw bad('expected {buckets, full}');
  return { buckets: readBuckets(body.buckets, 'buckets'), full: readBuckets(body.full ?? [], 'full') };
}

export function readPullRequest(body: unknown): PullRequest {
  if (isObject(body) && Array.isArray(body.keys) && body.keys.length > MAX_PULL_KEYS) throw tooMany('keys', MAX_PULL_KEYS);
  if (!isObject(body) || !Array.isArray(body.keys) || !(body.keys as unknown[]).every((k) => typeof k === 'string')) {
    throw bad('expected {keys: [string, ...]}');
  }
  return { keys: body.keys as string[] };
}

/** Messages one publish body may carry (a relay sends at most 500). */
export const MAX_PUBLISH_MESSAGES = 10_000;

/** POST /_mesh/publish: `{messages: [[topic, message], …]}`. */
export function readPublish(body: unknown): PublishBody {
  if (isObject(body) && Array.isArray(body.messages) && body.messages.length > MAX_PUBLISH_MESSAGES) throw tooMany('messages', MAX_PUBLISH_MESSAGES);
  if (!isObject(body) || !Array.isArray(body.messages) || !(body.messages as unknown[]).every((m) => Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && m[0] !== '' && typeof m[1] === 'string')) {
    throw bad('expected {messages: [[topic, message], ...]}');
  }
  return { messages: body.messages as [string, string][] };
}

/** Peers one ping may list: more than any mesh this node can serve has. */
export const MAX_PING_PEERS = 1000;
/** Keys one pull may ask for (anti-entropy pages hold REPLICATION_BATCH keys, at most 100,000). */
export const MAX_PULL_KEYS = 100_000;
/** Records one replicate body may carry (REPLICATION_BATCH is at most 100,000). */
export const MAX_BATCH_RECORDS = 100_000;
