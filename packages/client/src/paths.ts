/**
 * Request targets of the public routes, percent-encoded: for clients that send requests
 * their own way (the stress tool's raw connections) and for MeshKvClient itself.
 */

/** `w` and `wtimeout` of a write: how many nodes must hold it before the answer, and how long to wait. */
export interface WriteOptions {
  /** A number of nodes, 'all' (every member of the mesh, a down one included) or 'majority'. Default: the node's WRITE_CONCERN. */
  readonly w?: number | 'all' | 'majority';
  /** ms; default: the node's WRITE_TIMEOUT_MS. */
  readonly wtimeout?: number;
}

const q = encodeURIComponent;

function concern(options: WriteOptions | undefined): string {
  let text = '';
  if (options?.w !== undefined) text += `&w=${options.w}`;
  if (options?.wtimeout !== undefined) text += `&wtimeout=${options.wtimeout}`;
  return text;
}

export const paths = {
  set: (key: string, value: string, options?: WriteOptions): string => `/set?k=${q(key)}&v=${q(value)}${concern(options)}`,
  get: (key: string): string => `/get?k=${q(key)}`,
  is: (key: string): string => `/is?k=${q(key)}`,
  rm: (key: string, options?: WriteOptions): string => `/rm?k=${q(key)}${concern(options)}`,
  clear: (options?: WriteOptions): string => `/clear${options === undefined || concern(options) === '' ? '' : `?${concern(options).slice(1)}`}`,
  keys: (): string => '/getKeys',
  values: (): string => '/getValues',
  all: (): string => '/getAll',
  index: (): string => '/',
  healthcheck: (): string => '/healthcheck',
  status: (): string => '/status',
  nkvdPing: (nodes: readonly string[]): string => (nodes.length === 0 ? '/ping' : `/ping?nodes=${q(nodes.join('|'))}`),
} as const;
