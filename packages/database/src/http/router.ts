import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApiError } from '../errors';
import type { QueryParams } from './query';

/** Who sent a request, as the key hook found (auth/); routes read the tenant's prefix from it. */
export interface Principal {
  /** The key's id (`admin` for ADMIN_KEY). */
  readonly id: string;
  /** The store prefix of the key's tenant (`<tenant>/`), '' for a key without one. */
  readonly prefix: string;
  readonly tenant?: string;
}

/** What a handler gets for one request. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly path: string;
  readonly query: QueryParams;
  /** Set by the key hook when keys are required; undefined when every route is open. */
  principal: Principal | undefined;
  /** The route the path matched, once looked up; undefined before, or when none did. */
  route: Route | undefined;
  /** When the request reached the server (performance.now(), ms). */
  readonly startedAt: number;
}

/**
 * Who may use a route when API keys are required: anyone (`open`), nodes of the mesh
 * (`mesh`: their own signature, see mesh/auth), any valid key (`any`), a key with the scope
 * (`read`, `write`, `admin`), or a key with `read` and no tenant (`node`: what describes the
 * whole node, /status).
 */
export type Access = 'open' | 'mesh' | 'any' | 'read' | 'write' | 'admin' | 'node';

/** The socket of a request that switches protocols, and what the client sent past the request's headers. */
export interface Upgraded {
  readonly socket: Duplex;
  readonly head: Buffer;
}

/**
 * Handles a request asking to switch protocols (`Upgrade: websocket`), once the route's
 * hooks let it through: it either answers with `ctx.res` as any handler does (a refusal;
 * the connection then closes), or calls `take` and owns the socket from then on.
 */
export type UpgradeHandler = (ctx: RequestContext, take: () => Upgraded) => void;

/** Answers one request; a thrown error or a rejected promise becomes a logged 500. */
export type Handler = (ctx: RequestContext) => void | Promise<void>;

/** What a hook decides: an ApiError to answer with instead of the handler, or undefined to let the request through. */
export type HookOutcome = ApiError | undefined;

/**
 * Runs before a route's handler (as fastify's onRequest/preHandler): returns an ApiError
 * to answer with instead, and the handler then does not run; undefined lets the request
 * through. Cheap and synchronous on the common path: hooks run on every request of their
 * routes. A hook may answer a promise where it must wait (an API key seen for the first
 * time is checked against its slow hash); the hooks after it then wait too. The mesh
 * secret check is one; API keys and rate limits plug in the same way.
 */
export type Hook = (ctx: RequestContext, route: Route) => HookOutcome | Promise<HookOutcome>;

export interface Route {
  readonly path: string;
  readonly methods: ReadonlySet<string>;
  /** The value of the `Allow` header for a 405 on this path. */
  readonly allow: string;
  readonly handler: Handler;
  /** This route's own hooks, run after the router's (`addHook`). */
  readonly hooks: readonly Hook[];
  /** The route takes every path that starts with its own (`/kv/` takes `/kv/a/b`). */
  readonly prefix: boolean;
  /** How the index shows the path (`/kv/{key}`); the path itself for an exact route. */
  readonly pattern: string;
  /** Who may use it, by method (see Access). */
  readonly access: (method: string) => Access;
  /** Takes WebSocket upgrades of GET requests; without it, an upgrade request is answered as a plain one. */
  readonly upgrade?: UpgradeHandler;
}

export interface RouteOptions {
  /** Default: GET and HEAD. */
  readonly methods?: readonly string[];
  readonly hooks?: readonly Hook[];
  /** Every path under this one (the path ends with `/`); an exact route of a longer path wins. */
  readonly prefix?: boolean;
  /** How the index shows the path, for a prefix route (`/kv/{key}`). */
  readonly pattern?: string;
  /** Who may use it (default: `admin`, so a route nobody thought about is closed), or by method. */
  readonly access?: Access | ((method: string) => Access);
  /** See Route.upgrade. */
  readonly upgrade?: UpgradeHandler;
}

const READ_METHODS = ['GET', 'HEAD'] as const;

/**
 * Maps a path to its handler and hooks: an exact path first, else the longest prefix route
 * that starts it; a path is registered once. Hooks added with `addHook` run for every
 * route, before the route's own.
 */
export class Router {
  private readonly routes = new Map<string, Route>();
  /** The prefix routes, longest first. */
  private prefixes: Route[] = [];
  private readonly shared: Hook[] = [];

  /** A hook for every route, registered before or after it. */
  addHook(hook: Hook): void {
    this.shared.push(hook);
  }

  /** The answer of the first hook that refuses the request, if any; a promise of it once a hook had to wait. */
  runHooks(ctx: RequestContext, route: Route): HookOutcome | Promise<HookOutcome> {
    const hooks = this.shared.length === 0 ? route.hooks : route.hooks.length === 0 ? this.shared : [...this.shared, ...route.hooks];
    for (let i = 0; i < hooks.length; i++) {
      const outcome = (hooks[i] as Hook)(ctx, route);
      if (outcome instanceof Promise) return outcome.then((refused) => refused ?? runRest(hooks, i + 1, ctx, route));
      if (outcome !== undefined) return outcome;
    }
    return undefined;
  }

  /** Every route registered, in the order of registration. */
  list(): readonly Route[] {
    return [...this.routes.values()];
  }

  register(path: string, handler: Handler, options: RouteOptions = {}): void {
    if (!path.startsWith('/')) throw new Error(`A route path starts with "/" (got "${path}")`);
    if (this.routes.has(path)) throw new Error(`The route ${path} is already registered`);
    const methods = options.methods ?? READ_METHODS;
    if (methods.length === 0) throw new Error(`The route ${path} needs at least one method`);
    const prefix = options.prefix ?? false;
    if (prefix && !path.endsWith('/')) throw new Error(`A prefix route ends with "/" (got "${path}")`);
    const route: Route = {
      path,
      methods: new Set(methods.map((m) => m.toUpperCase())),
      allow: methods.map((m) => m.toUpperCase()).join(', '),
      handler,
      hooks: options.hooks ?? [],
      prefix,
      pattern: options.pattern ?? path,
      access: accessOf(options.access),
      ...(options.upgrade === undefined ? {} : { upgrade: options.upgrade }),
    };
    this.routes.set(path, route);
    if (prefix) this.prefixes = [...this.prefixes, route].sort((a, b) => b.path.length - a.path.length);
  }

  /** True when the path was registered. */
  unregister(path: string): boolean {
    this.prefixes = this.prefixes.filter((route) => route.path !== path);
    return this.routes.delete(path);
  }

  lookup(path: string): Route | undefined {
    const exact = this.routes.get(path);
    if (exact !== undefined || this.prefixes.length === 0) return exact;
    return this.prefixes.find((route) => path.startsWith(route.path));
  }

  get paths(): string[] {
    return [...this.routes.keys()];
  }
}

function accessOf(access: RouteOptions['access']): (method: string) => Access {
  if (typeof access === 'function') return access;
  const fixed = access ?? 'admin';
  return () => fixed;
}

/** The hooks from `start` on, each awaited. */
async function runRest(hooks: readonly Hook[], start: number, ctx: RequestContext, route: Route): Promise<HookOutcome> {
  for (let i = start; i < hooks.length; i++) {
    const refused = await (hooks[i] as Hook)(ctx, route);
    if (refused !== undefined) return refused;
  }
  return undefined;
}
