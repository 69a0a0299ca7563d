/**
 * The audit event, its schema and its canonical form.
 *
 * An event is evidence: who (actor) did what (action) to which resource, with what outcome, when
 * and from where. Events form a hash chain in a total order (`seq`): each event's `hash` covers
 * every other field of the event, including `prevHash`, the hash of the event before it. The
 * canonical form is fixed byte for byte (see docs/format-audit.md) so that any verifier, in any
 * language, recomputes the same hash.
 */
import { createHmac, hash as oneShotHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ByteWriter, canonicalJson, withPath, writeValue } from './canonical.ts';

/** Domain string hashed in front of every event, so an event hash can never equal another hash. */
export const EVENT_HASH_DOMAIN = 'strongroom/audit/v1';
/** `prevHash` of the first event (seq 1). */
export const GENESIS_HASH = '0'.repeat(64);
/** Largest canonical `details` object accepted, in bytes. Keeps single events small. */
export const MAX_DETAILS_BYTES = 16 * 1024;

export const ACTOR_KINDS = ['user', 'service', 'operator', 'anonymous', 'system'] as const;
export const OUTCOMES = ['success', 'denied', 'failure'] as const;
/** `module.noun.verb`: three dot-separated lower-case words (digits, `-` and `_` allowed inside). */
export const ACTION_PATTERN = /^[a-z][a-z0-9_-]*\.[a-z][a-z0-9_-]*\.[a-z][a-z0-9_-]*$/;
/** ISO-8601 UTC with milliseconds, as `Date#toISOString` prints for years 0000–9999. */
export const TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const HEX64_PATTERN = /^[0-9a-f]{64}$/;

/** Thrown when an event, draft, checkpoint or export line is not well formed. */
export class AuditFormatError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AuditFormatError';
  }
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonValueSchema),
    z.record(z.string(), jsonValueSchema),
  ]),
);

const text = (max: number) => z.string().min(1).max(max);

/** ISO-8601 UTC time with milliseconds that names a real instant. */
export const isoTimeSchema = z
  .string()
  .regex(TIME_PATTERN, 'must look like 2025-01-31T12:00:00.000Z')
  .refine((t) => !Number.isNaN(Date.parse(t)) && new Date(t).toISOString() === t, 'not a real UTC time');

export const hex64Schema = z.string().regex(HEX64_PATTERN, 'must be 64 lower-case hex digits');

const detailsSchema = z
  .record(z.string(), jsonValueSchema)
  .refine((d) => fitsDetails(d), `must be a plain JSON object of at most ${MAX_DETAILS_BYTES} bytes`);

const draftShape = {
  time: isoTimeSchema,
  actor: z.strictObject({ id: text(256), kind: z.enum(ACTOR_KINDS), authMethod: text(64).optional() }),
  action: z.string().max(128).regex(ACTION_PATTERN, 'must be module.noun.verb'),
  resource: z.strictObject({ type: text(64), id: text(256).optional(), workspace: text(256).optional() }),
  outcome: z.enum(OUTCOMES),
  requestId: text(128).optional(),
  sourceIp: z.union([z.ipv4(), z.ipv6()]).optional(),
  userAgent: text(512).optional(),
  details: detailsSchema,
};

/** An event before it joins the chain: what the caller records. Unknown keys are rejected. */
export const auditEventDraftSchema = z.strictObject(draftShape);

/** A chained event. Unknown keys are rejected: every field of an event is covered by its hash. */
export const auditEventSchema = z.strictObject({
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  ...draftShape,
  prevHash: hex64Schema,
  hash: hex64Schema,
});

export type AuditEvent = z.infer<typeof auditEventSchema>;
export type AuditEventDraft = z.infer<typeof auditEventDraftSchema>;
/**
 * What callers record: the one audit-event input type (modules, tasks, schedules and the
 * pipeline). `time` defaults to now and `details` to `{}`; it becomes an `AuditEventDraft` once
 * validated.
 */
export type AuditEventInput = Omit<AuditEventDraft, 'time' | 'details'> & {
  time?: string;
  details?: AuditEventDraft['details'];
};
/** Who an audit event names (the request's `Actor` as recorded: id, kind, how it authenticated). */
export type AuditActor = AuditEvent['actor'];
export type AuditResource = AuditEvent['resource'];
/** An event whose hash is still to be computed. */
export type UnhashedEvent = Omit<AuditEvent, 'hash'>;
/** Where a chain ends: the last event's seq and hash (`{ seq: 0, hash: GENESIS_HASH }` if empty). */
export interface ChainHead {
  seq: number;
  hash: string;
}

/** The head of an empty chain. */
export const GENESIS_HEAD: Readonly<ChainHead> = Object.freeze({ seq: 0, hash: GENESIS_HASH });

function fitsDetails(d: unknown): boolean {
  try {
    return Buffer.byteLength(canonicalJson(d)) <= MAX_DETAILS_BYTES;
  } catch {
    return false;
  }
}

/**
 * The fields an event's hash covers, as a plain object, with absent optional fields omitted
 * (`undefined` and absent mean the same). Keys not in the schema are not copied. With
 * `withHash`, `hash` is included too (the export line form).
 */
export function eventBody(e: UnhashedEvent & { hash?: string }, withHash = false): Record<string, unknown> {
  const body: Record<string, unknown> = {
    seq: e.seq,
    time: e.time,
    actor: compact({ id: e.actor.id, kind: e.actor.kind, authMethod: e.actor.authMethod }),
    action: e.action,
    resource: compact({ type: e.resource.type, id: e.resource.id, workspace: e.resource.workspace }),
    outcome: e.outcome,
    requestId: e.requestId,
    sourceIp: e.sourceIp,
    userAgent: e.userAgent,
    details: e.details,
    prevHash: e.prevHash,
  };
  if (withHash) body['hash'] = e.hash;
  return compact(body);
}

function compact(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** Writes `v` at nesting depth 1, naming `path` if it has no JSON form. */
function field(w: ByteWriter, key: string, v: unknown, path: string): void {
  w.ascii(key);
  if (typeof v === 'string') return w.quoted(v); // the common case, kept free of try/catch
  try {
    writeValue(w, v, 1);
  } catch (err) {
    withPath(err, path);
  }
}

/**
 * Writes the canonical JSON of every field but `hash` into `w`: the bytes of
 * `canonicalJson(eventBody(e))`, but field by field in sorted key order, without building the
 * intermediate object (the verifier does this for every event). With `hash`, the `"hash"` member
 * is written too (the export line form; it sorts right after `details`); returns the offset of
 * its leading comma, or -1.
 */
function writeEventBody(w: ByteWriter, e: UnhashedEvent, hash?: unknown): number {
  field(w, '{"action":', e.action, '.action');
  writeActor(w, e.actor);
  field(w, ',"details":', e.details, '.details');
  const at = hash === undefined ? -1 : w.off;
  if (hash !== undefined) field(w, ',"hash":', hash, '.hash');
  field(w, ',"outcome":', e.outcome, '.outcome');
  field(w, ',"prevHash":', e.prevHash, '.prevHash');
  if (e.requestId !== undefined) field(w, ',"requestId":', e.requestId, '.requestId');
  writeResource(w, e.resource);
  field(w, ',"seq":', e.seq, '.seq');
  if (e.sourceIp !== undefined) field(w, ',"sourceIp":', e.sourceIp, '.sourceIp');
  field(w, ',"time":', e.time, '.time');
  if (e.userAgent !== undefined) field(w, ',"userAgent":', e.userAgent, '.userAgent');
  w.ascii('}');
  return at;
}

function writeActor(w: ByteWriter, a: AuditActor): void {
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return field(w, ',"actor":', a, '.actor');
  if (a.authMethod !== undefined) {
    field(w, ',"actor":{"authMethod":', a.authMethod, '.actor.authMethod');
    field(w, ',"id":', a.id, '.actor.id');
  } else {
    field(w, ',"actor":{"id":', a.id, '.actor.id');
  }
  field(w, ',"kind":', a.kind, '.actor.kind');
  w.ascii('}');
}

function writeResource(w: ByteWriter, r: AuditResource): void {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return field(w, ',"resource":', r, '.resource');
  if (r.id !== undefined) {
    field(w, ',"resource":{"id":', r.id, '.resource.id');
    field(w, ',"type":', r.type, '.resource.type');
  } else {
    field(w, ',"resource":{"type":', r.type, '.resource.type');
  }
  if (r.workspace !== undefined) field(w, ',"workspace":', r.workspace, '.resource.workspace');
  w.ascii('}');
}

const DOMAIN_PREFIX = Buffer.from(EVENT_HASH_DOMAIN + '\0', 'latin1');
const PREV_OFFSET = DOMAIN_PREFIX.length;
/** Reused hash input: domain ‖ 0x00 ‖ 32 bytes of prevHash ‖ canonical body. */
const hashInput = new ByteWriter(Buffer.concat([DOMAIN_PREFIX, Buffer.alloc(32)]), 8192);
const bodyOnly = new ByteWriter();
/** `,"hash":"` ‖ 64 hex ‖ `"`: what the export line adds to the canonical body. */
const HASH_MEMBER_BYTES = 74;
const PLACEHOLDER = '0'.repeat(64);
/**
 * The export line of the event hashed last, with the computed hash filled in: the verifier
 * compares exported lines with it, so one canonicalization serves both the hash and the compare.
 */
const line = new ByteWriter();
let lineEvent: object | undefined;
let lineHash = '';

/**
 * Canonical JSON of every field but `hash`, as UTF-8 bytes. Throws `CanonicalJsonError` (with
 * the field path) for values that have no JSON form.
 */
export function eventCanonicalBytes(e: UnhashedEvent): Buffer {
  bodyOnly.reset();
  writeEventBody(bodyOnly, e);
  return bodyOnly.bytes();
}

/** {@link eventCanonicalBytes} as text. */
export function eventCanonicalJson(e: UnhashedEvent): string {
  return eventCanonicalBytes(e).toString('utf8');
}

/**
 * `SHA-256( "strongroom/audit/v1" ‖ 0x00 ‖ prevHash (32 raw bytes) ‖ canonical bytes )` as
 * lower-case hex. Throws `AuditFormatError` when `prevHash` is not 64 hex digits and
 * `CanonicalJsonError` when a field has no JSON form.
 */
export function computeEventHash(e: UnhashedEvent): string {
  lineEvent = undefined;
  if (!decodeHex64(e.prevHash, hashInput.buf, PREV_OFFSET)) {
    throw new AuditFormatError(`event ${String(e.seq)}: prevHash is not 64 hex digits`);
  }
  // Encode the export line once (hash still a placeholder) and hash it minus the hash member.
  line.reset();
  const at = writeEventBody(line, e, PLACEHOLDER);
  const n = line.off - HASH_MEMBER_BYTES;
  hashInput.reset();
  hashInput.ensure(n);
  line.buf.copy(hashInput.buf, hashInput.off, 0, at);
  line.buf.copy(hashInput.buf, hashInput.off + at, at + HASH_MEMBER_BYTES, line.off);
  hashInput.off += n;
  const hex = oneShotHash('sha256', hashInput.buf.subarray(0, hashInput.off), 'hex');
  line.buf.write(hex, at + 9, 64, 'latin1');
  lineEvent = e;
  lineHash = hex;
  return hex;
}

/**
 * The export line of `e` (canonical JSON of the whole event, `hash` included, no newline) as
 * bytes: the same bytes as `canonicalJson(eventBody(e, true))`. The result is a view into a
 * reused buffer, valid until the next call of this function or {@link computeEventHash}.
 * Right after `computeEventHash(e)` (the verifier's order) it costs nothing. Events are
 * treated as immutable. Throws `CanonicalJsonError` for values that have no JSON form.
 */
export function eventLineBytes(e: AuditEvent): Buffer {
  if (lineEvent !== e || lineHash !== e.hash) {
    lineEvent = undefined;
    line.reset();
    writeEventBody(line, e, e.hash);
  }
  return line.buf.subarray(0, line.off);
}

const ipSchema = draftShape.sourceIp.unwrap();
let lastGoodIp = '';
const PROTO_KEY = Buffer.from('"__proto__"');

const isText = (v: unknown, max: number): boolean => typeof v === 'string' && v.length >= 1 && v.length <= max;
const isOptText = (v: unknown, max: number): boolean => v === undefined || isText(v, max);
const isActorKind = (k: unknown): boolean =>
  k === 'user' || k === 'service' || k === 'system' || k === 'operator' || k === 'anonymous';
const isOutcome = (o: unknown): boolean => o === 'success' || o === 'denied' || o === 'failure';

/**
 * A quick, conservative stand-in for {@link auditEventSchema} on the fields an export line
 * holds: true only if the strict line parser would accept `eventLineBytes(e)` (given that it is
 * `lineBytes` long and hashes to `e.hash`); false means "not sure, run the schema". About
 * twenty times cheaper than the schema, so the verifier can vet every exported event.
 */
export function looksLikeValidEvent(e: AuditEvent, lineBytes: Buffer): boolean {
  const { actor, resource } = e;
  return (
    Number.isSafeInteger(e.seq) &&
    e.seq >= 1 &&
    isValidTimeFast(e.time) &&
    typeof actor === 'object' &&
    actor !== null &&
    isText(actor.id, 256) &&
    isActorKind(actor.kind) &&
    isOptText(actor.authMethod, 64) &&
    typeof e.action === 'string' &&
    e.action.length <= 128 &&
    ACTION_PATTERN.test(e.action) &&
    typeof resource === 'object' &&
    resource !== null &&
    isText(resource.type, 64) &&
    isOptText(resource.id, 256) &&
    isOptText(resource.workspace, 256) &&
    isOutcome(e.outcome) &&
    isOptText(e.requestId, 128) &&
    isOptText(e.userAgent, 512) &&
    isValidIpFast(e.sourceIp) &&
    typeof e.details === 'object' &&
    e.details !== null &&
    !Array.isArray(e.details) &&
    isLowerHex64(e.prevHash) &&
    // The whole line bounds the details' size; a "__proto__" key is left to the schema.
    lineBytes.length <= MAX_DETAILS_BYTES &&
    !lineBytes.includes(PROTO_KEY)
  );
}

const DRAFT_KEYS = new Set([
  'time',
  'actor',
  'action',
  'resource',
  'outcome',
  'requestId',
  'sourceIp',
  'userAgent',
  'details',
]);
const ACTOR_KEYS = new Set(['id', 'kind', 'authMethod']);
const RESOURCE_KEYS = new Set(['type', 'id', 'workspace']);

const onlyKeys = (o: object, allowed: ReadonlySet<string>): boolean => {
  for (const k in o) if (!allowed.has(k)) return false;
  return Object.getPrototypeOf(o) === Object.prototype;
};

/**
 * A quick, conservative stand-in for {@link auditEventDraftSchema} (the writer's check on every
 * recorded event): true only if the schema would accept `d` unchanged, as far as its JSON text
 * goes — same keys, same values. `jsonBytes` is the UTF-8 length of `JSON.stringify(d)`, which
 * bounds the canonical size of `details` (canonical JSON escapes and prints numbers as
 * `JSON.stringify` does, so it is never longer). False means "not sure, run the schema", which
 * also words the refusal.
 */
export function looksLikeValidDraft(d: Record<string, unknown>, jsonBytes: number): boolean {
  const actor = d['actor'] as Record<string, unknown> | undefined;
  const resource = d['resource'] as Record<string, unknown> | undefined;
  return (
    jsonBytes <= MAX_DETAILS_BYTES &&
    onlyKeys(d, DRAFT_KEYS) &&
    isValidTimeFast(d['time']) &&
    typeof actor === 'object' &&
    actor !== null &&
    onlyKeys(actor, ACTOR_KEYS) &&
    isText(actor['id'], 256) &&
    isActorKind(actor['kind']) &&
    isOptText(actor['authMethod'], 64) &&
    typeof d['action'] === 'string' &&
    d['action'].length <= 128 &&
    ACTION_PATTERN.test(d['action']) &&
    typeof resource === 'object' &&
    resource !== null &&
    onlyKeys(resource, RESOURCE_KEYS) &&
    isText(resource['type'], 64) &&
    isOptText(resource['id'], 256) &&
    isOptText(resource['workspace'], 256) &&
    isOutcome(d['outcome']) &&
    isOptText(d['requestId'], 128) &&
    isOptText(d['userAgent'], 512) &&
    isValidIpFast(d['sourceIp']) &&
    isPlainJsonObject(d['details'], 1)
  );
}

/** Plain objects (Object.prototype), arrays without holes, strings, finite numbers, booleans, null. */
function isPlainJson(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v);
    case 'object':
      if (v === null) return true;
      if (depth >= 16) return false; // deeper: left to the schema (and the canonical depth limit)
      if (!Array.isArray(v)) return isPlainJsonObject(v, depth + 1);
      if (Object.getPrototypeOf(v) !== Array.prototype) return false;
      for (let i = 0; i < v.length; i++) if (!(i in v) || !isPlainJson(v[i], depth + 1)) return false;
      return true;
    default:
      return false;
  }
}

function isPlainJsonObject(v: unknown, depth: number): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype)
    return false;
  for (const k in v) {
    if (k === '__proto__' || !Object.hasOwn(v, k) || !isPlainJson((v as Record<string, unknown>)[k], depth))
      return false;
  }
  return true;
}

function isLowerHex64(h: unknown): boolean {
  if (typeof h !== 'string' || h.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = h.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function isValidIpFast(ip: unknown): boolean {
  if (ip === undefined || ip === lastGoodIp) return true;
  if (!ipSchema.safeParse(ip).success) return false;
  lastGoodIp = ip as string;
  return true;
}

function twoDigits(t: string, i: number): number {
  return (t.charCodeAt(i) - 48) * 10 + t.charCodeAt(i + 1) - 48;
}

/** TIME_PATTERN plus ranges; days 29–31 are left to `Date` (what the schema does). */
function isValidTimeFast(t: unknown): boolean {
  if (typeof t !== 'string' || !TIME_PATTERN.test(t)) return false;
  const month = twoDigits(t, 5);
  const day = twoDigits(t, 8);
  if (month < 1 || month > 12 || day < 1 || twoDigits(t, 11) > 23 || twoDigits(t, 14) > 59 || twoDigits(t, 17) > 59)
    return false;
  return day <= 28 || new Date(t).toISOString() === t;
}

/**
 * Decodes 64 hex digits into `out[at..at+32)`; false for anything else. (Upper case decodes too;
 * the schema and the chain link check, which compare text, insist on lower case.)
 */
function decodeHex64(hex: unknown, out: Buffer, at: number): boolean {
  return typeof hex === 'string' && hex.length === 64 && out.write(hex, at, 32, 'hex') === 32;
}

const HMAC_PREFIX = 'hmac-sha256:';
const HMAC_PATTERN = /^hmac-sha256:[0-9a-f]{64}$/;

/**
 * Keyed fingerprint of a sensitive value for the audit trail: `hmac-sha256:<hex>` of
 * HMAC-SHA256(auditKey, UTF-8 value). The log never holds the value; someone holding the audit
 * key can still answer "was it this value?" with {@link checkValue}. Without the key a guess
 * cannot be tested, which matters for low-entropy values such as e-mail addresses.
 * `auditKey` must be at least 32 bytes and used for nothing else.
 */
export function hmacValue(auditKey: Buffer, value: string): string {
  if (auditKey.length < 32) throw new RangeError('audit key must be at least 32 bytes');
  return HMAC_PREFIX + createHmac('sha256', auditKey).update(value, 'utf8').digest('hex');
}

/**
 * True when `recorded` is the {@link hmacValue} of `value` under `auditKey`. The digests are
 * compared in constant time; a malformed `recorded` is simply false.
 */
export function checkValue(auditKey: Buffer, value: string, recorded: string): boolean {
  if (!HMAC_PATTERN.test(recorded)) return false;
  const expected = Buffer.from(hmacValue(auditKey, value).slice(HMAC_PREFIX.length), 'hex');
  return timingSafeEqual(expected, Buffer.from(recorded.slice(HMAC_PREFIX.length), 'hex'));
}
