import type { Version } from './version';

/** Node ids as they appear in version tags, percent-encoded once (there are few of them). */
const encodedIds = new Map<string, string>();
/** 2^26: an HLC (below 2^53) is written as two small integers, which print several times faster than it does. */
const LOW = 67_108_864;

/**
 * A record's version as an entity tag: `<hlc high>.<hlc low>-<node id>` (the HLC's upper
 * and lower 26 bits in decimal, the node id percent-encoded), the same on every node for
 * the same write, different for every write of a key. Opaque to clients.
 */
export function versionTag(version: Version): string {
  const high = Math.floor(version.hlc / LOW);
  return `${high}.${version.hlc - high * LOW}-${encodedId(version.nodeId)}`;
}

/** The ETag header's value: the version tag, quoted (one string built, on the hot routes). */
export function etag(version: Version): string {
  const high = Math.floor(version.hlc / LOW);
  return `"${high}.${version.hlc - high * LOW}-${encodedId(version.nodeId)}"`;
}

function encodedId(nodeId: string): string {
  let id = encodedIds.get(nodeId);
  if (id === undefined) {
    id = encodeURIComponent(nodeId);
    if (encodedIds.size < 10_000) encodedIds.set(nodeId, id);
  }
  return id;
}
