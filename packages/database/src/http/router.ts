import type { IncomingMessage, ServerResponse } from 'node:http';
import type { QueryParams } from './query';

/** What a handler gets for one request. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly path: string;
  readonly query: QueryParams;
}

/** Answers one request; a thrown error or a rejected promise becomes a logged 500. */
export type Handler = (ctx: RequestContext) => void | Promise<void>;

export interface Route {
  readonly path: string;
  readonly methods: ReadonlySet<string>;
  /** The value of the `Allow` header for a 405 on this path. */
  readonly allow: string;
  readonly handler: Handler;
}

export interface RouteOptions {
  /** Default: GET and HEAD. */
  readonly methods?: readonly string[];
}

const READ_METHODS = ['GET', 'HEAD'] as const;

/**
 * Maps an exact path to its handler. Routes can be added and removed while the server
 * runs (the mesh adds its internal routes when it starts); a path is registered once.
 */
export class Router {
  private readonly routes = new Map<string, Route>();

  register(path: string, handler: Handler, options: RouteOptions = {}): void {
    if (!path.startsWith('/')) throw new Error(`A route path starts with "/" (got "${path}")`);
    if (this.routes.has(path)) throw new Error(`The route ${path} is already registered`);
    const methods = options.methods ?? READ_METHODS;
    if (methods.length === 0) throw new Error(`The route ${path} needs at least one method`);
    this.routes.set(path, {
      path,
      methods: new Set(methods.map((m) => m.toUpperCase())),
      allow: methods.map((m) => m.toUpperCase()).join(', '),
      handler,
    });
  }

  /** True when the path was registered. */
  unregister(path: string): boolean {
    return this.routes.delete(path);
  }

  lookup(path: string): Route | undefined {
    return this.routes.get(path);
  }

  get paths(): string[] {
    return [...this.routes.keys()];
  }
}
