export { backoffDelay } from './backoff';
export { freePort, listen } from './listen';
export { createLogger, type Logger, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel, silentLogger } from './logger';
export { configOrExit, runService, type Service, type ServiceMessages } from './process';
export { ConfigError, type Env, readEnvironment, SettingsReader } from './settings';
export { type WaitOptions, waitFor } from './wait-for';
export { bodyDigest, MESH_SIGNATURE_SCHEME, type ParsedSignature, parseMeshSignature, signatureMatches, signMeshRequest, type SignedParts } from './mesh-signature';
export { Buckets, LATENCY_BOUNDS_S } from './buckets';
