/**
 * Every route declares, in its `config.access`, either the Cedar action it is authorised by and
 * the audit event it records, or why it is public (health probes, login). `createApp` collects
 * the declarations; a test walks them and fails on any route without one (default deny).
 */
import type { FastifyInstance } from 'fastify';

export type RouteAccess = (
  | { public: string }
  | {
      /** Cedar action, dotted like the audit action, e.g. `vault.secret.read`. */
      action: string;
      /** Audit event action recorded for this route. */
      audit: string;
    }
) & {
  /** Whether the route works while Strongroom is sealed (health, seal status, unseal). */
  allowSealed?: boolean;
};

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

export interface RouteEntry {
  method: string;
  url: string;
  access: RouteAccess | undefined;
}

/** Collect every route as it is added; call before any route is registered. */
export function collectRoutes(app: FastifyInstance): RouteEntry[] {
  const table: RouteEntry[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue; // Fastify's automatic HEAD twin of a GET
      table.push({ method, url: route.url, access: (route.config as { access?: RouteAccess } | undefined)?.access });
    }
  });
  return table;
}
