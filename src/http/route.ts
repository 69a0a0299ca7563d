/**
 * How a module declares an HTTP route. A route says WHAT it does — its Cedar action, the resource
 * the decision is made on, its audit event, whether it needs a recent sign-in, how its work runs
 * — and `server/pipeline.ts` does the rest, in one fixed order for every route:
 *
 *   authenticate (auth plugin) → validate input → load the resource → authorize ONCE on it
 *   → run the handler (in a transaction, or as a read, or as a stream) → record the event
 *   (in the same transaction, or before the answer leaves) → answer through the response schema.
 *
 * Denials, missing resources, validation failures and errors are recorded by the pipeline as
 * `denied` or `failure` events; a handler never records by hand. An event that cannot be recorded
 * stops the action (503 AUDIT_UNAVAILABLE; a transaction's work is rolled back).
 *
 * Modules import this file (types only) and export `RouteDef[]`; they never import Fastify or the
 * server.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { z } from 'zod';
import type { Actor } from '../core/actor.ts';
import type { ResourceRef } from '../core/resource.ts';

export type { ResourceRef } from '../core/resource.ts';
import type { JsonValue } from '../core/audit/event.ts';
import type { Database } from '../db/schema.ts';

/** What a resource loader found: the reference to decide on, and the row if it exists. */
export interface Loaded<T> {
  ref: ResourceRef;
  /** Undefined when the resource does not exist (the route then answers 404 after the decision). */
  row?: T | undefined;
  /** The action actually performed when it depends on what was found (create vs update). */
  action?: string;
}

type AnySchema = z.ZodType;
export interface Schemas {
  params?: AnySchema;
  querystring?: AnySchema;
  body?: AnySchema;
  headers?: AnySchema;
  response?: Record<number, AnySchema>;
}
type Out<S, K extends keyof Schemas> =
  S extends Record<K, infer T> ? (T extends AnySchema ? z.output<T> : undefined) : undefined;

/** The validated input of a request. */
export interface Input<S extends Schemas> {
  params: Out<S, 'params'>;
  query: Out<S, 'querystring'>;
  body: Out<S, 'body'>;
}

/** What the handler may add to or change in its audit event. */
export interface EventNote {
  /** Merge details into the event (values are recorded as given: never put a secret here). */
  details(d: Record<string, JsonValue>): void;
  /** The resource the event names, when it is known only after the work (a created id). */
  resource(ref: ResourceRef): void;
}

interface BaseCtx<S extends Schemas, T> {
  request: FastifyRequest;
  reply: FastifyReply;
  actor: Actor;
  input: Input<S>;
  /** The resource the decision was made on. */
  resource: ResourceRef;
  /** The loaded row (present: a route with `mustExist` never runs without it). */
  row: T;
  event: EventNote;
  /** A further decision for the same actor (filtering the items of a list; never instead of the route's). */
  allowed(action: string, ref: ResourceRef): boolean;
  db: Kysely<Database>;
}

/** `write`: the handler runs in a transaction and the event is recorded in it. */
export interface WriteCtx<S extends Schemas, T> extends BaseCtx<S, T> {
  trx: Transaction<Database>;
}
/** `read`: no transaction; the event is committed (group commit) before the answer leaves. */
export type ReadCtx<S extends Schemas, T> = BaseCtx<S, T>;
/**
 * `stream`: the handler says when its event is recorded — `record()` commits it on its own (a
 * download: before the first byte), `commit(work)` runs `work` and the event in one transaction
 * (an upload: when the bytes are stored). If it does neither, the pipeline records a failure.
 */
export interface StreamCtx<S extends Schemas, T> extends BaseCtx<S, T> {
  record(): Promise<void>;
  commit<R>(work: (trx: Transaction<Database>) => Promise<R>): Promise<R>;
}

interface Common<S extends Schemas, T> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  /** Cedar action, dotted like the audit action (`vault.secret.read`). */
  action: string;
  /** The audit event's action, when it differs from `action`. */
  audit?: string;
  schema: S;
  /**
   * The resource of the one decision: a loader for the concrete resource, or `workspace` (the
   * route's `:ws`), `self` (the caller's own account) or `system` (installation-wide, operator).
   */
  resource: 'workspace' | 'self' | 'system' | ((input: Input<S>, actor: Actor) => Promise<Loaded<T>> | Loaded<T>);
  /** A missing resource answers 404 with this message (after a decision on what was asked for). */
  mustExist?: string;
  /** Needs a password/MFA proof within STRONGROOM_REAUTH_MAX_AGE_SECONDS (checked after the decision). */
  reauth?: boolean;
  /** Runs while Strongroom is sealed (health, seal status, unseal). */
  allowSealed?: boolean;
  bodyLimit?: number;
  /**
   * The media types a request body may have. A request whose content-type is not one of them is
   * refused with 415 before a byte of its body is read; `[]` refuses any body. Unset: whatever
   * parsers the route's scope has (JSON by default).
   */
  consumes?: readonly string[];
  /** Success status when not 200 (201 for creations). */
  status?: number;
}

export type RouteDef<S extends Schemas = Schemas, T = unknown, R = unknown> =
  | (Common<S, T> & { run: 'write'; handler: (ctx: WriteCtx<S, T>) => Promise<R> })
  | (Common<S, T> & { run: 'read'; handler: (ctx: ReadCtx<S, T>) => Promise<R> | R })
  | (Common<S, T> & { run: 'stream'; handler: (ctx: StreamCtx<S, T>) => Promise<R> });

/** A public route: no actor, no decision, no event (health probes, sign-in, the console's files). */
export interface PublicRouteDef<S extends Schemas = Schemas> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  public: string;
  schema: S;
  allowSealed?: boolean;
  /** As for declared routes: the body media types taken; any other is refused (415) before it is read. */
  consumes?: readonly string[];
  handler: (ctx: { request: FastifyRequest; reply: FastifyReply; input: Input<S> }) => Promise<unknown> | unknown;
}

/** Typed constructor (identity at run time): infers the input types from the schemas. */
export function route<S extends Schemas, T = undefined, R = unknown>(def: RouteDef<S, T, R>): RouteDef {
  return def as unknown as RouteDef;
}
