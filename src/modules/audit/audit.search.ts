/**
 * Searching the trail: filters, keyset pagination by seq with an opaque cursor, and the JSON
 * lines / CSV renderings used by the API and the CLI.
 */
import { sql } from 'kysely';
import { z } from 'zod';
import type { AuditEvent } from '../../core/audit/event.ts';
import { MAX_LIMIT, searchQuerySchema } from '../../contracts/audit.ts';
import { eventJsonLine } from '../../core/audit/segment.ts';
import { AppError } from '../../core/errors.ts';
import { rowToEvent } from './audit.rows.ts';
import type { Executor } from './audit.store.ts';

export { MAX_LIMIT, searchQuerySchema };

export type SearchQuery = z.input<typeof searchQuerySchema>;

export interface SearchPage {
  events: AuditEvent[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

const CURSOR_PREFIX = 'v1:';

function encodeCursor(seq: number, order: 'asc' | 'desc'): string {
  return Buffer.from(`${CURSOR_PREFIX}${order}:${seq}`).toString('base64url');
}

function decodeCursor(cursor: string, order: 'asc' | 'desc'): number {
  const m = /^v1:(asc|desc):(\d{1,16})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (m === null || m[1] !== order)
    throw new AppError('VALIDATION_FAILED', { detail: 'the cursor is not valid for this search' });
  return Number(m[2]);
}

/**
 * A workspace's view of the trail: its own events, and — given its members — their personal
 * identity events, which belong to no workspace (sign-in and failed sign-in, MFA, sessions,
 * password changes), so its auditors see who signed in and who failed to.
 */
export interface SearchScope {
  members?: readonly string[];
}

/** Personal identity events (recorded without a workspace) a member's workspace auditors see. */
export const PERSONAL_EVENT_PREFIXES = ['identity.session.', 'identity.mfa.', 'identity.user.password-change'] as const;

/** LIKE pattern matching strings that start with `prefix` (wildcards in it are literal). */
function likePrefix(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => '\\' + c) + '%';
}

/**
 * One page of events matching every given filter, ordered by seq. Throws VALIDATION_FAILED for
 * bad filters or a cursor from another search order.
 */
export async function searchEvents(db: Executor, input: SearchQuery, scope: SearchScope = {}): Promise<SearchPage> {
  const parsed = searchQuerySchema.safeParse(input);
  if (!parsed.success)
    throw new AppError('VALIDATION_FAILED', {
      detail: 'invalid audit search',
      meta: { issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  const q = parsed.data;
  let query = db.selectFrom('audit_events').selectAll();
  if (q.actor !== undefined) query = query.where('actor_id', '=', q.actor);
  if (q.actionPrefix !== undefined) query = query.where('action', 'like', likePrefix(q.actionPrefix));
  if (q.resource !== undefined) {
    const [type, ...rest] = q.resource.split(':');
    query = query.where('resource_type', '=', type as string);
    if (rest.length > 0) query = query.where('resource_id', '=', rest.join(':'));
  }
  const workspaceId = q.workspace;
  const members = scope.members ?? [];
  if (workspaceId !== undefined)
    query = query.where((eb) =>
      members.length === 0
        ? eb('workspace', '=', workspaceId)
        : eb.or([
            eb('workspace', '=', workspaceId),
            eb.and([
              eb('workspace', 'is', null),
              eb('resource_type', '=', 'user'),
              eb.or(PERSONAL_EVENT_PREFIXES.map((p) => eb('action', 'like', likePrefix(p)))),
              // The ids as one array parameter, read as a set: a list of a thousand constants
              // cost more to plan than the query costs to run (bench/audit-members.ts).
              sql<boolean>`exists (select 1 from unnest(${[...members]}::text[]) as m(id) where m.id = actor_id or m.id = resource_id)`,
            ]),
          ]),
    );
  if (q.outcome !== undefined) query = query.where('outcome', '=', q.outcome);
  if (q.hideReads === 'true') query = query.where('action', 'not like', '%.read').where('action', 'not like', '%.list');
  if (q.from !== undefined) query = query.where('time', '>=', new Date(q.from));
  if (q.to !== undefined) query = query.where('time', '<', new Date(q.to));
  if (q.cursor !== undefined)
    query = query.where('seq', q.order === 'asc' ? '>' : '<', decodeCursor(q.cursor, q.order));
  const rows = await query
    .orderBy('seq', q.order)
    .limit(q.limit + 1)
    .execute();
  const events = rows.slice(0, q.limit).map(rowToEvent);
  const last = events[events.length - 1];
  return { events, nextCursor: rows.length > q.limit && last !== undefined ? encodeCursor(last.seq, q.order) : null };
}

/** JSON lines: one canonical event per line (the export form), each ending in `\n`. */
export function toJsonLines(events: readonly AuditEvent[]): string {
  return events.map((e) => eventJsonLine(e) + '\n').join('');
}

export const CSV_COLUMNS = [
  'seq',
  'time',
  'actor_id',
  'actor_kind',
  'auth_method',
  'action',
  'resource_type',
  'resource_id',
  'workspace',
  'outcome',
  'request_id',
  'source_ip',
  'user_agent',
  'details',
  'prev_hash',
  'hash',
] as const;

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote, CR or LF, quotes doubled. A cell
 * starting with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'` so spreadsheets do not run it
 * as a formula (OWASP CSV injection).
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

function csvRow(e: AuditEvent, emails?: ReadonlyMap<string, string>): string {
  const cells = [
    String(e.seq),
    e.time,
    e.actor.id,
    ...(emails ? [emails.get(e.actor.id) ?? ''] : []),
    e.actor.kind,
    e.actor.authMethod ?? '',
    e.action,
    e.resource.type,
    e.resource.id ?? '',
    e.resource.workspace ?? '',
    e.outcome,
    e.requestId ?? '',
    e.sourceIp ?? '',
    e.userAgent ?? '',
    JSON.stringify(e.details),
    e.prevHash,
    e.hash,
  ];
  return cells.map(csvCell).join(',') + '\r\n';
}

/**
 * CSV with a header row; `withHeader` false for continuation pages. Lines end in CRLF. With
 * `emails` (user id → email) an `actor_email` column follows `actor_id`.
 */
export function toCsv(events: readonly AuditEvent[], withHeader = true, emails?: ReadonlyMap<string, string>): string {
  const columns = emails ? [...CSV_COLUMNS.slice(0, 3), 'actor_email', ...CSV_COLUMNS.slice(3)] : CSV_COLUMNS;
  return (withHeader ? columns.join(',') + '\r\n' : '') + events.map((e) => csvRow(e, emails)).join('');
}

/**
 * The whole filtered range as text chunks (JSON lines or CSV), fetched page by page (1000 events
 * each, keyset cursor), so an export of any size is streamed without a cap and without holding
 * it in memory. `emailsOf` names the users of each page (CSV only).
 */
export async function* exportChunks(
  search: (q: SearchQuery) => Promise<SearchPage>,
  query: SearchQuery,
  format: 'jsonl' | 'csv',
  emailsOf?: (ids: string[]) => Promise<ReadonlyMap<string, string>>,
): AsyncGenerator<string> {
  let cursor: string | undefined;
  let first = true;
  do {
    const { cursor: _ignored, ...rest } = query;
    const page = await search({ ...rest, limit: MAX_LIMIT, ...(cursor !== undefined ? { cursor } : {}) });
    if (format === 'jsonl') yield toJsonLines(page.events);
    else {
      const users = [...new Set(page.events.filter((e) => e.actor.kind === 'user').map((e) => e.actor.id))];
      const emails = emailsOf ? await emailsOf(users) : new Map<string, string>();
      yield toCsv(page.events, first, emails);
    }
    first = false;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}
