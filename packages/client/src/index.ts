export { type BatchOperation, type BatchResult, type ClientOptions, MeshKvClient, MeshKvError, type RawAnswer, type RecordMeta, type ScanPage, type VersionedValue } from './client';
export { paths, type ScanOptions, type SetOptions, type WriteOptions } from './paths';
export type { ClockStatus, MeshStats, NkvdNode, NodeIndex, NodeStatus, PeerState, PeerStatus, StorageOpen, SyncReport, SyncRound, TombstonePurgeStatus, VersionInfo } from './status';
