/**
 * `strongroom audit verify | tail | search`: through a running server's API (operator
 * credential) when one answers, otherwise offline on the stopped data directory — reading the
 * database and `<STRONGROOM_HOME>/logs/audit/` directly; offline needs no root key
 * (verification uses the stored public keys) and writes nothing.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { openDatabase } from '../db/database.ts';
import {
  createAuditModule,
  formatProblem,
  toCsv,
  toJsonLines,
  type AuditModule,
  type SearchPage,
  type SearchQuery,
} from '../modules/audit/index.ts';
import { databaseSpec } from '../installation/home.ts';
import type { Api } from '../client/api.ts';
import type { AuditEvent } from '../core/audit/event.ts';
import type { VerifyReport } from '../core/audit/verify.ts';
import { CliExit, configOrExit } from './context.ts';
import { connectToServer, say } from './server-link.ts';
import { EXIT } from './exit-codes.ts';

/** What the commands need, served by the API or by the data directory. */
interface AuditSource {
  verify(): Promise<VerifyReport>;
  tail(n: number): Promise<AuditEvent[]>;
  search(query: SearchQuery): Promise<SearchPage>;
}

/**
 * The trail as the API serves it. Its answers are the chain's own events and verify report as
 * JSON (the server sends them unchanged), so they are read as the core types the formatters take.
 */
function apiSource(api: Api): AuditSource {
  const page = async (q: Parameters<Api['auditTrail']['events']>[0]) => (await api.auditTrail.events(q)) as SearchPage;
  return {
    verify: async () => (await api.auditTrail.verify()) as VerifyReport,
    tail: async (n) => (await page({ order: 'desc', limit: Math.min(n, 1000) })).events.reverse(),
    search: (q) =>
      page({
        actor: q.actor,
        action: q.actionPrefix,
        outcome: q.outcome,
        from: q.from,
        to: q.to,
        cursor: q.cursor,
        limit: q.limit === undefined ? undefined : Number(q.limit),
      }),
  };
}

async function withSource<T>(run: (source: AuditSource) => Promise<T>): Promise<T> {
  const client = await connectToServer(configOrExit());
  if (client) {
    say('online', 'audit');
    return run(apiSource(client));
  }
  return offline((a) => run(a));
}

async function offline<T>(run: (audit: AuditModule) => Promise<T>): Promise<T> {
  const config = configOrExit();
  say('offline', 'audit');
  const handle = await openDatabase(databaseSpec(config));
  try {
    return await run(createAuditModule({ db: handle.db, logDir: path.join(config.STRONGROOM_HOME, 'logs') }));
  } finally {
    await handle.close();
  }
}

/** `15m`, `2h`, `7d` before now, or an ISO date/time. */
function parseWhen(v: string): string {
  const rel = /^(\d+)([mhd])$/.exec(v);
  if (rel !== null)
    return new Date(
      Date.now() - Number(rel[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'm' | 'h' | 'd'],
    ).toISOString();
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new CliExit(EXIT.USAGE, `not a time: ${v} (use an ISO date or 15m / 2h / 7d)`);
  return d.toISOString();
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliExit(EXIT.USAGE, `not a positive integer: ${v}`);
  return n;
}

/** Adds the `audit` command group. */
export function registerAuditCommand(program: Command): void {
  const audit = program
    .command('audit')
    .description(
      'Audit trail: verify integrity, show and search events (through the running server, or offline on a stopped data directory).',
    );
  audit
    .command('verify')
    .description(
      'Prove the trail was not altered: hash chain, signed checkpoints, exported copies. Exit 1 when anything is wrong.',
    )
    .option('--json', 'print the report as JSON')
    .action(async (o: { json?: boolean }) => {
      const report = await withSource((a) => a.verify());
      if (o.json === true) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else if (report.ok)
        process.stdout.write(
          `OK: ${report.eventsChecked} events verified, head at seq ${report.headSeq} (${report.headHash.slice(0, 16)}…)\n`,
        );
      else for (const p of report.problems) process.stdout.write(formatProblem(p) + '\n');
      if (!report.ok) {
        const more = report.problemsOmitted > 0 ? ` (+${report.problemsOmitted} not listed)` : '';
        throw new CliExit(EXIT.FAILED, `audit trail verification FAILED: ${report.problems.length} problem(s)${more}`);
      }
    });
  audit
    .command('tail')
    .description('Print the newest events as JSON lines.')
    .option('-n, --lines <n>', 'how many events', positive, 20)
    .action(async (o: { lines: number }) => {
      process.stdout.write(toJsonLines(await withSource((a) => a.tail(o.lines))));
    });
  audit
    .command('search')
    .description('Search events (all pages) and print them as JSON lines or CSV.')
    .option('--actor <id>', 'actor id')
    .option('--action <prefix>', 'action or action prefix, e.g. vault.')
    .option('--outcome <outcome>', 'success | denied | failure')
    .option('--since <when>', 'ISO time or 15m / 2h / 7d ago')
    .option('--until <when>', 'ISO time or 15m / 2h / 7d ago (exclusive)')
    .option('--format <format>', 'jsonl | csv', 'jsonl')
    .action(
      async (o: {
        actor?: string;
        action?: string;
        outcome?: string;
        since?: string;
        until?: string;
        format: string;
      }) => {
        if (o.format !== 'jsonl' && o.format !== 'csv') throw new CliExit(EXIT.USAGE, '--format must be jsonl or csv');
        // An empty filter would be left out of the query (and match everything): refuse it instead.
        for (const [flag, v] of [
          ['--actor', o.actor],
          ['--action', o.action],
          ['--outcome', o.outcome],
        ] as const) {
          if (v === '') throw new CliExit(EXIT.USAGE, `${flag} needs a value`);
        }
        const query = {
          ...(o.actor !== undefined ? { actor: o.actor } : {}),
          ...(o.action !== undefined ? { actionPrefix: o.action } : {}),
          ...(o.outcome !== undefined ? { outcome: o.outcome as 'success' } : {}),
          ...(o.since !== undefined ? { from: parseWhen(o.since) } : {}),
          ...(o.until !== undefined ? { to: parseWhen(o.until) } : {}),
          limit: 1000,
        };
        await withSource(async (a) => {
          let cursor: string | undefined;
          let first = true;
          do {
            const page = await a.search({ ...query, ...(cursor !== undefined ? { cursor } : {}) });
            process.stdout.write(o.format === 'csv' ? toCsv(page.events, first) : toJsonLines(page.events));
            first = false;
            cursor = page.nextCursor ?? undefined;
          } while (cursor !== undefined);
        });
      },
    );
}
