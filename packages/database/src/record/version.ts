/**
 * A version names one write: the HLC value it was stamped with and the node that
 * stamped it. Versions are totally ordered, HLC first and node id second, so any two
 * nodes pick the same winner between two writes (last writer wins).
 */
export interface Version {
  readonly hlc: number;
  readonly nodeId: string;
}

/** Negative when a is older than b, positive when newer, 0 when the same write. */
export function compareVersions(a: Version, b: Version): number {
  if (a.hlc !== b.hlc) return a.hlc < b.hlc ? -1 : 1;
  if (a.nodeId === b.nodeId) return 0;
  return a.nodeId < b.nodeId ? -1 : 1;
}
