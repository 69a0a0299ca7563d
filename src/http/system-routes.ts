/**
 * Two route shapes the operator's modules (backups, retention) declare again and again, as
 * declarations still (the pipeline authenticates, decides on `system`, audits and runs the
 * transaction as for any route):
 * - `systemRead`: a GET of one installation-wide resource whose answer is what `read()` gives;
 * - `systemRemove`: a DELETE by one path parameter that names the resource, runs the removal in
 *   the route's transaction and answers `{ <answer>: <the parameter> }`.
 * Routes with their own details, bodies or long work stay written out in their module.
 */
import type { Transaction } from 'kysely';
import type { z } from 'zod';
import type { Actor } from '../core/actor.ts';
import type { Database } from '../db/schema.ts';
import { route, type ResourceRef, type RouteDef } from './route.ts';

export function systemRead(o: {
  url: string;
  action: string;
  resource: ResourceRef;
  read: () => Promise<unknown>;
}): RouteDef {
  return route({
    method: 'GET',
    url: o.url,
    action: o.action,
    resource: 'system',
    run: 'read',
    schema: {},
    handler: async ({ event }) => {
      event.resource(o.resource);
      return o.read();
    },
  });
}

export function systemRemove<K extends string>(o: {
  /** Ends with `/:<param>`. */
  url: string;
  action: string;
  param: K;
  /** The one path parameter, validated. */
  params: z.ZodType<Record<K, string>>;
  /** The resource the parameter names. */
  resource: (value: string) => ResourceRef;
  remove: (trx: Transaction<Database>, value: string, actor: Actor) => Promise<void>;
  /** The answer's key (`removed`, `released`, `cancelled`). */
  answer: string;
}): RouteDef {
  return route({
    method: 'DELETE',
    url: o.url,
    action: o.action,
    resource: 'system',
    run: 'write',
    schema: { params: o.params },
    handler: async ({ input, event, trx, actor }) => {
      const value = (input.params as Record<K, string>)[o.param];
      event.resource(o.resource(value));
      await o.remove(trx, value, actor);
      return { [o.answer]: value };
    },
  });
}
