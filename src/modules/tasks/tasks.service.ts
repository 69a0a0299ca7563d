/**
 * Task-execution logs: every background job (rewrap, drive health, cleanup, posture checks,
 * scheduled rotation …) writes its log as an encrypted object under `logs/tasks/` on the system
 * drive, and its run (status, progress, where the log is) as a `task_runs` row.
 *
 * Guarantees:
 * - No plaintext on the system drive: a log object is in the Strongroom object format
 *   (AES-256-GCM segments, committed header) under a fresh data key per write; the data key is
 *   barrier-sealed in the run's row (context task_runs/sealed_dek/<id>), so rotation rewraps it.
 * - No secret or dataset value in a log: entries are structured; any field named like a
 *   credential or a value is replaced by `[redacted]` and free text is scrubbed of bearer tokens,
 *   `password=` pairs and URL passwords before it is kept. Jobs log counts, ids and codes.
 * - Object stores are immutable enough: each write is a new object
 *   (`logs/tasks/<day>/<id>/<n>.srob`); the row moves to it in one statement, then the previous
 *   object is deleted. A crash leaves the row pointing at a complete object.
 * - Memory is bounded: at most `maxBytes` of log per run; later entries are counted, not kept.
 * - A finished run is an audit event (`task.run.finished`, actor system) naming the task id and
 *   its log object, committed before `finish` resolves.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { BlobDriver } from '../../adapters/blob/driver.ts';
import type { Barrier } from '../../core/crypto/barrier.ts';
import { decryptObject, encryptObject } from '../../core/crypto/object-format.ts';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { AuditEventInput } from '../audit/index.ts';
import * as store from './tasks.store.ts';

/** The object-format identity of system objects (not a workspace: no workspace key is involved). */
export const SYSTEM_OBJECT_SCOPE = '_system';

export interface TaskLogsDeps {
  db: Kysely<Database>;
  barrier: Barrier;
  /** The system drive, opened per write; `label` names it in rows and events. */
  systemDrive: { label: string; open(): Promise<BlobDriver> };
  recordEvent(input: AuditEventInput): Promise<void>;
  clock?: () => Date;
  /** Longest time a running task's entries wait before they are written (default 5 s). */
  flushMs?: number;
  maxBytes?: number;
}

export interface TaskRun {
  id: string;
  /** Where the log lives, for audit events: `<drive>:logs/tasks/<day>/<id>/`. */
  ref: string;
  write(entry: Record<string, unknown>): Promise<void>;
  /** Replaces the run's progress summary (counts only). */
  progress(p: Record<string, string | number | boolean>): void;
  finish(status: 'succeeded' | 'failed'): Promise<void>;
}

const SENSITIVE_KEY =
  /pass(word|phrase)?|secret|token|credential|private|cookie|authorization|^value$|^values$|dek|data.?key|api.?key|share/i;

/** A log entry as kept: sensitive fields redacted, strings scrubbed, depth and size limited. */
export function redactEntry(v: unknown, depth = 0): unknown {
  if (depth > 6) return '[nested]';
  if (typeof v === 'string')
    return v
      .replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/gi, 'Bearer [redacted]')
      .replace(/(pass(word)?|secret|token)=[^&\s]+/gi, '$1=[redacted]')
      .replace(/\/\/([^/:@\s]+):[^@/\s]+@/g, '//$1:[redacted]@')
      .slice(0, 2000);
  if (Array.isArray(v)) return v.slice(0, 200).map((x) => redactEntry(x, depth + 1));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = SENSITIVE_KEY.test(k) ? '[redacted]' : redactEntry(x, depth + 1);
    return out;
  }
  return v;
}

const day = (d: Date) => d.toISOString().slice(0, 10);

export function createTaskLogs(deps: TaskLogsDeps) {
  const clock = deps.clock ?? (() => new Date());
  const flushMs = deps.flushMs ?? 5000;
  const maxBytes = deps.maxBytes ?? 1 << 20;
  const ctx = (id: string) => ({ table: 'task_runs', column: 'sealed_dek', rowId: id });

  /** Starts a run of `kind`; `opts.workspace`: the workspace it runs for (its owners may read it). */
  async function start(kind: string, opts: { workspace?: string } = {}): Promise<TaskRun> {
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(kind)) throw new AppError('INTERNAL', { detail: 'bad task kind' });
    const now = clock();
    const id = `${kind}-${now.toISOString().replace(/[:.]/g, '-').toLowerCase()}-${randomUUID().slice(0, 8)}`;
    const prefix = `logs/tasks/${day(now)}/${id}/`;
    const workspace = opts.workspace ?? null;
    await store.insertRun(deps.db, { id, kind, drive: deps.systemDrive.label, now, workspace });
    const lines: string[] = [];
    let bytes = 0;
    let dropped = 0;
    let written = 0;
    let progress: Record<string, string | number | boolean> = {};
    let timer: NodeJS.Timeout | undefined;
    let chain: Promise<void> = Promise.resolve();

    const flush = (): Promise<void> => {
      clearTimeout(timer);
      timer = undefined;
      chain = chain
        .catch(() => undefined)
        .then(async () => {
          const tail =
            dropped > 0
              ? [JSON.stringify({ time: clock().toISOString(), event: 'truncated', droppedEntries: dropped })]
              : [];
          const plaintext = Buffer.from([...lines, ...tail].map((l) => `${l}\n`).join(''), 'utf8');
          const dataKey = randomBytes(32);
          const objectId = randomUUID();
          const objectKey = `${prefix}${String(++written).padStart(6, '0')}.srob`;
          try {
            const stored = encryptObject(
              { dataKey, workspaceId: SYSTEM_OBJECT_SCOPE, objectId, keyTerm: deps.barrier.activeTerm() },
              plaintext,
            );
            const sealedDek = deps.barrier.seal(dataKey, ctx(id));
            const drive = await deps.systemDrive.open();
            try {
              await drive.put(objectKey, stored);
              const previous = await store.updateLog(deps.db, id, {
                objectKey,
                objectId,
                sealedDek,
                entries: lines.length,
                progress,
                now: clock(),
              });
              if (previous && previous !== objectKey) await drive.delete(previous).catch(() => undefined);
            } finally {
              await drive.close();
            }
          } finally {
            dataKey.fill(0);
            plaintext.fill(0);
          }
        });
      return chain;
    };

    return {
      id,
      ref: `${deps.systemDrive.label}:${prefix}`,
      async write(entry) {
        const line = JSON.stringify({ time: clock().toISOString(), ...(redactEntry(entry) as object) });
        if (bytes + line.length > maxBytes) {
          dropped++;
          return;
        }
        lines.push(line);
        bytes += line.length + 1;
        timer ??= setTimeout(() => void flush().catch(() => undefined), flushMs).unref();
      },
      progress(p) {
        progress = p;
      },
      async finish(status) {
        await flush();
        await store.finishRun(deps.db, id, status, clock());
        await deps.recordEvent({
          actor: { id: 'system', kind: 'system', authMethod: 'task' },
          action: 'task.run.finished',
          outcome: status === 'succeeded' ? 'success' : 'failure',
          resource: { type: 'task', id, ...(workspace ? { workspace } : {}) },
          details: { kind, status, log: `${deps.systemDrive.label}:${prefix}`, entries: lines.length },
        });
      },
    };
  }

  return {
    start,
    /** Newest runs first; `workspace` given: only that workspace's. */
    list: (kind: string | undefined, limit: number, workspaceId?: string) =>
      store.listRuns(deps.db, kind, Math.max(1, Math.min(limit, 500)), workspaceId),
    kinds: (workspaceId?: string) => store.listKinds(deps.db, workspaceId),
    get: (id: string) => store.getRun(deps.db, id),
    /** The decrypted log entries of a run (NOT_FOUND if there is no such run). */
    async read(id: string): Promise<Record<string, unknown>[]> {
      const ref = await store.getLogRef(deps.db, id);
      if (!ref) throw new AppError('NOT_FOUND', { detail: 'No such task.' });
      if (!ref.objectKey || !ref.objectId || !ref.sealedDek) return [];
      const dataKey = deps.barrier.open(ref.sealedDek, ctx(id));
      const drive = await deps.systemDrive.open();
      try {
        const got = await drive.get(ref.objectKey);
        const chunks: Buffer[] = [];
        for await (const c of got.body) chunks.push(c as Buffer);
        const text = decryptObject(
          { dataKey, workspaceId: SYSTEM_OBJECT_SCOPE, objectId: ref.objectId },
          Buffer.concat(chunks),
        ).toString('utf8');
        return text
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      } finally {
        dataKey.fill(0);
        await drive.close();
      }
    },
  };
}

export type TaskLogs = ReturnType<typeof createTaskLogs>;
