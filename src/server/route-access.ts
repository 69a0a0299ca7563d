/**
 * Every route declares, in its `config.access`, either the Cedar action it is authorised by and
 * the audit event it records, or why it is public (health probes, login). `createApp` collects
 * the declarations; a test walks them and fails on any route without one (default deny).
 */
import type { FastifyInstance } from 'fastify';
import type { ResourceRef } from '../core/resource.ts';
import type { BodyKind } from '../http/route.ts';

export type RouteAccess = (
  | {
      public: string;
      /** The event every attempt records (a public route whose body is a credential). */
      audit?: { action: string; resource: ResourceRef };
    }
  | {
      /** Cedar action, dotted like the audit action, e.g. `vault.secret.read`. */
      action: string;
      /** Audit event action recorded for this route. */
      audit: string;
      /**
       * What the one decision is made on: `loaded` (the route's resource loader, decided in the
       * pipeline), or — decided by the auth plugin before the input is read — the route's
       * `workspace`, the caller's own account (`self`) or the installation (`system`). Routes
       * declared before the pipeline (none left once every module uses it) leave it out.
       */
      resource?: 'loaded' | 'workspace' | 'self' | 'system';
      /** Why a success is not recorded (a read of the caller's own identity); refusals still are. */
      unaudited?: string;
    }
) & {
  /** Whether the route works while Strongroom is sealed (health, seal status, unseal). */
  allowSealed?: boolean;
};

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
    /** The route's declared body kind and the media types it accepts (routes with a body method). */
    body?: BodyKind;
    consumes?: readonly string[];
  }
}

export interface RouteEntry {
  method: string;
  url: string;
  access: RouteAccess | undefined;
  body?: BodyKind;
  consumes?: readonly string[];
}

export class UndeclaredRouteError extends Error {
  constructor(method: string, url: string) {
    super(
      `${method} ${url} declares no access (a Cedar action and audit event, or why it is public); refusing to start.`,
    );
    this.name = 'UndeclaredRouteError';
  }
}

/**
 * Collect every route as it is added; call before any route is registered. A route without a
 * declaration throws UndeclaredRouteError, so the server does not start with it (default deny).
 */
export function collectRoutes(app: FastifyInstance): RouteEntry[] {
  const table: RouteEntry[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const { access, body, consumes } =
      (route.config as { access?: RouteAccess; body?: BodyKind; consumes?: readonly string[] } | undefined) ?? {};
    for (const method of methods) {
      if (method === 'HEAD') continue; // Fastify's automatic HEAD twin of a GET
      if (!access) throw new UndeclaredRouteError(method, route.url);
      table.push({ method, url: route.url, access, ...(body ? { body } : {}), ...(consumes ? { consumes } : {}) });
    }
  });
  return table;
}
