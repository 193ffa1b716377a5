import type { Version } from '../clock/version';
import { ApiError } from '../errors';
import { BUCKETS } from './digests';
import type { NodeInfo } from './membership';

/**
 * The bodies of the mesh routes, and checks that turn anything else into a 400. A peer
 * is trusted to be a MeshKV node (it knows the secret), not to be bug-free: nothing it
 * sends can crash a node or store a malformed record.
 */

/** `[key, value or null for a tombstone, hlc, nodeId]` */
export type WireRecord = [string, string | null, number, string];

export interface PingBody {
  readonly node: NodeInfo;
  readonly peers: readonly { readonly url: string }[];
}

export interface ReplicateBody {
  readonly records: readonly WireRecord[];
  readonly clear: Version | null;
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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isHlc(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 64;
}

export function isPeerUrl(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_URL && /^https?:\/\/[^/?#\s]+$/i.test(value);
}

export function readVersion(value: unknown, what: string): Version | null {
  if (value === null || value === undefined) return null;
  if (!isObject(value) || !isHlc(value.hlc) || !isNodeId(value.nodeId)) throw bad(`${what} must be {hlc, nodeId}`);
  return { hlc: value.hlc, nodeId: value.nodeId };
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
  return { nodeId: value.nodeId, url: value.url, incarnation: value.incarnation, ready: value.ready };
}

export function readPing(body: unknown): PingBody {
  if (!isObject(body)) throw bad('expected an object');
  const node = readNodeInfo(body.node);
  const peers: { url: string }[] = [];
  if (body.peers !== undefined) {
    if (!Array.isArray(body.peers) || body.peers.length > 10_000) throw bad('peers must be a list');
    for (const peer of body.peers as unknown[]) {
      if (!isObject(peer) || !isPeerUrl(peer.url)) throw bad('each peer must have a url');
      peers.push({ url: peer.url });
    }
  }
  return { node, peers };
}

function readRecords(value: unknown): WireRecord[] {
  if (!Array.isArray(value)) throw bad('records must be a list');
  for (const record of value as unknown[]) {
    if (
      !Array.isArray(record) ||
      record.length !== 4 ||
      typeof record[0] !== 'string' ||
      (record[1] !== null && typeof record[1] !== 'string') ||
      !isHlc(record[2]) ||
      !isNodeId(record[3])
    ) {
      throw bad('each record must be [key, value or null, hlc, nodeId]');
    }
  }
  return value as WireRecord[];
}

export function readReplicate(body: unknown): ReplicateBody {
  if (!isObject(body)) throw bad('expected {records: [...], clear}');
  return { records: readRecords(body.records), clear: readVersion(body.clear, 'clear') };
}

/** The answer of /_mesh/pull: `{records}`, checked like a replicate body. */
export function readPullAnswer(body: unknown): readonly WireRecord[] {
  if (!isObject(body)) throw bad('expected {records: [...]}');
  return readRecords(body.records);
}

export function readDigestsRequest(body: unknown): DigestsRequest {
  if (!isObject(body)) throw bad('expected {clear}');
  return { clear: readVersion(body.clear, 'clear') };
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
  if (!isObject(body) || !Array.isArray(body.keys) || !(body.keys as unknown[]).every((k) => typeof k === 'string')) {
    throw bad('expected {keys: [string, ...]}');
  }
  return { keys: body.keys as string[] };
}
