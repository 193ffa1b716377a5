export { type ClientOptions, MeshKvClient, MeshKvError, type RawAnswer } from './client';
export { paths, type WriteOptions } from './paths';
export type { ClockStatus, MeshStats, NkvdNode, NodeIndex, NodeStatus, PeerState, PeerStatus, StorageOpen, SyncReport, SyncRound, TombstonePurgeStatus, VersionInfo } from './status';
