import type { MeshStats as MeshStatsView, SyncRound } from '@meshkv/client';
import type { ApplyOutcome } from '../store/store';

/** The mesh's counters since start, shown in /status (`mesh`). */
export interface MeshStats extends MeshStatsView {
  recordsSent: number;
  recordsApplied: number;
  recordsStale: number;
  recordsDrift: number;
  recordsExpired: number;
  recordsOverLimits: number;
  outboxOverflows: number;
  syncRounds: number;
  syncFailures: number;
  replicationRequests: number;
  replicationFailures: number;
  syncPulled: number;
  syncPushed: number;
  syncBytesIn: number;
  syncBytesOut: number;
  lastSync: SyncRound | undefined;
  bootstrap: SyncRound | undefined;
}

export function newMeshStats(): MeshStats {
  return {
    recordsSent: 0,
    recordsApplied: 0,
    recordsStale: 0,
    recordsDrift: 0,
    recordsExpired: 0,
    recordsOverLimits: 0,
    outboxOverflows: 0,
    syncRounds: 0,
    syncFailures: 0,
    replicationRequests: 0,
    replicationFailures: 0,
    syncPulled: 0,
    syncPushed: 0,
    syncBytesIn: 0,
    syncBytesOut: 0,
    lastSync: undefined,
    bootstrap: undefined,
  };
}

/** Counts what the store did with one record from a peer. */
export function countApplied(stats: MeshStats, outcome: ApplyOutcome): void {
  if (outcome === 'applied') stats.recordsApplied++;
  else if (outcome === 'stale') stats.recordsStale++;
  else if (outcome === 'drift') stats.recordsDrift++;
  else if (outcome === 'limits') stats.recordsOverLimits++;
  else stats.recordsExpired++;
}
