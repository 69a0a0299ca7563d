/**
 * How a module declares an HTTP route. A route says WHAT it does — its Cedar action, the resource
 * the decision is made on, its audit event, whether it needs a recent sign-in, how its work runs
 * — and `server/pipeline.ts` does the rest, in one fixed order for every route:
 *
 *   authenticate (auth plugin) → refuse a body the route does not take → validate input
 *   → load the resource → authorize ONCE on it → run the handler (in a transaction, as a read,
 *   or with an explicit record/commit) → record the event (in the same transaction, or before the
 *   answer leaves) → answer through the response schema.
 *
 * Denials, missing resources, validation failures and errors are recorded by the pipeline as
 * `denied` or `failure` events; a handler never records by hand. A refusal the handler makes after
 * the pipeline's decision (a second decision on another resource, a role rule) is `deny(reason)` or
 * any 403 error, recorded as `denied` (a 401 a handler raises — a wrong code or password in the
 * body — is a failed attempt: `failure`). Every refused or failed event carries
 * `details.error` (the problem code) and, for a denial, `details.reason`. An event that cannot be
 * recorded stops the action (503 AUDIT_UNAVAILABLE; a transaction's work is rolled back).
 *
 * Public routes (no actor, no decision) declare why they are public, their per-address rate
 * limit and — when the body is itself a credential (sign-in, setup, unseal) — their audit event,
 * which the pipeline records like any other (success, or failure with `details.error`).
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

/**
 * What a request body is. A request with a body of another media type — or with any body on a
 * `none` route — is refused with 415 before a byte of it is read.
 * - `json`: `application/json`, parsed and validated against `schema.body`;
 * - `octet-stream`: raw bytes, handed to the handler as the request stream (`request.body`), never buffered;
 * - `multipart`: `multipart/form-data`, read by the handler (`request.parts()`);
 * - `form`: `application/x-www-form-urlencoded`, parsed to an object (the SAML ACS);
 * - `scim`: `application/scim+json` or `application/json`, parsed as JSON (SCIM clients send either);
 * - `none`: no body at all.
 * Unset: `json` when the schema has a body, else `none`.
 */
export type BodyKind = 'json' | 'octet-stream' | 'multipart' | 'form' | 'scim' | 'none';

/** The media types each body kind accepts. */
export const BODY_MEDIA_TYPES: Readonly<Record<BodyKind, readonly string[]>> = {
  json: ['application/json'],
  'octet-stream': ['application/octet-stream'],
  multipart: ['multipart/form-data'],
  form: ['application/x-www-form-urlencoded'],
  scim: ['application/scim+json', 'application/json'],
  none: [],
};

/** A route's body kind: declared, or implied by its schema. */
export const bodyKindOf = (def: { body?: BodyKind; schema: Schemas }): BodyKind =>
  def.body ?? (def.schema.body ? 'json' : 'none');

/** Requests per source address per time window (e.g. `{ max: 10, timeWindow: '1 minute' }`): 429 beyond it. */
export interface RateLimit {
  max: number;
  timeWindow: string;
}

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
  /**
   * Refuse after the route's decision (a second decision, a role rule): the pipeline records the
   * event as `denied` with this reason and answers 403 with `detail` (default: the reason).
   */
  deny(reason: string, detail?: string): never;
  db: Kysely<Database>;
}

/** `write`: the handler runs in a transaction and the event is recorded in it. */
export interface WriteCtx<S extends Schemas, T> extends BaseCtx<S, T> {
  trx: Transaction<Database>;
}
/** `read`: no transaction; the event is committed (group commit) before the answer leaves. */
export type ReadCtx<S extends Schemas, T> = BaseCtx<S, T>;
/** The explicit form's two ways to record the route's event. */
export interface ExplicitRecord {
  /** Commit the event on its own now (before a download's first byte; before a key change). */
  record(): Promise<void>;
  /** Run `work` and the event in one transaction (an upload once its bytes are stored; a session change after its checks). */
  commit<R>(work: (trx: Transaction<Database>) => Promise<R>): Promise<R>;
}
/**
 * `explicit`: the handler says when its event is recorded, with `record()` or `commit(work)` —
 * for streams (uploads, downloads, exports), long jobs, and work that must run checks outside the
 * event's transaction first (throttle counters that commit whatever happens). If the handler
 * returns without doing either, the pipeline records the event as a success before answering.
 */
export interface ExplicitCtx<S extends Schemas, T> extends BaseCtx<S, T>, ExplicitRecord {}

interface Common<S extends Schemas, T> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  /** Cedar action, dotted like the audit action (`vault.secret.read`). */
  action: string;
  /** The audit event's action, when it differs from `action`. */
  audit?: string;
  /**
   * Why a success is not recorded (denials and failures still are). Only a `GET` of the caller's
   * own account (`resource: 'self'`) may say so, and only when its answer reveals nothing beyond
   * the caller's own identity: the console reads it on every page load.
   */
  unaudited?: string;
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
  /** What the request body is (see `BodyKind`); unset: `json` with a body schema, else `none`. */
  body?: BodyKind;
  /** Success status when not 200 (201 for creations). */
  status?: number;
}

export type RouteDef<S extends Schemas = Schemas, T = unknown, R = unknown> =
  | (Common<S, T> & { run: 'write'; handler: (ctx: WriteCtx<S, T>) => Promise<R> })
  | (Common<S, T> & { run: 'read'; handler: (ctx: ReadCtx<S, T>) => Promise<R> | R })
  | (Common<S, T> & { run: 'explicit'; handler: (ctx: ExplicitCtx<S, T>) => Promise<R> });

/** The event note of a public route: also who acted, once the credential proved it (a sign-in). */
export interface PublicEventNote extends EventNote {
  actor(actor: Actor): void;
}

/** What a public route's handler gets; `record`/`commit` only when it declares an `audit` event. */
export interface PublicCtx<S extends Schemas> extends ExplicitRecord {
  request: FastifyRequest;
  reply: FastifyReply;
  input: Input<S>;
  event: PublicEventNote;
}

/**
 * A public route: no actor and no decision (health probes, seal status, sign-in, setup, unseal).
 * A route whose body is a credential declares its `audit` event and its `rateLimit`: the pipeline
 * limits it per source address before the body is read and records every attempt that reaches
 * the handler — as the explicit form does: `commit(work)` or `record()`, else a success recorded
 * before the answer leaves; an error is recorded as a failure with `details.error`.
 */
export interface PublicRouteDef<S extends Schemas = Schemas> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  public: string;
  schema: S;
  allowSealed?: boolean;
  body?: BodyKind;
  bodyLimit?: number;
  rateLimit?: RateLimit;
  /** The event every attempt records: its action and the resource it names (the handler may refine both). */
  audit?: { action: string; resource: ResourceRef };
  handler: (ctx: PublicCtx<S>) => Promise<unknown> | unknown;
}

/** Typed constructor (identity at run time): infers the input types from the schemas. */
export function route<S extends Schemas, T = undefined, R = unknown>(def: RouteDef<S, T, R>): RouteDef {
  return def as unknown as RouteDef;
}

/** Typed constructor of a public route (identity at run time). */
export function publicRoute<S extends Schemas>(def: PublicRouteDef<S>): PublicRouteDef {
  return def as unknown as PublicRouteDef;
}
