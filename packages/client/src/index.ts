export { type BatchOperation, type BatchResult, type ClientOptions, MeshKvClient, MeshKvError, type RawAnswer, type RecordMeta, type ScanPage, type VersionedValue } from './client';
export type { CreatedKey, KeyInfo, KeyScope, KeySpec, TenantInfo, TenantQuota, WhoAmI } from './keys';
export { paths, type ScanOptions, type SetOptions, type WriteOptions } from './paths';
export type { BalancerPicture, ClockStatus, ClusterPicture, ShownChange, MeshStats, NkvdNode, NodeIndex, NodeLoad, NodeStatus, PeerState, PeerStatus, StorageOpen, SyncReport, SyncRound, TombstonePurgeStatus, VersionInfo } from './status';
export { type ChangeEvent, EventStream, type PollAnswer, type PollOptions, StreamError, type StreamOptions, type StreamTransport, type TopicMessage, type WatchOptions } from './watch';
