/**
 * `strongroom policy apply|test|list|show|history|delete`: data protection policies as code (issue 17).
 * `apply -f policies.yaml` creates or updates each policy of the file idempotently (a policy
 * whose document did not change stays at its version); `--dry-run` validates every one on the
 * server — schema, row filter, conflicts with the policies in force — and writes nothing.
 *
 * `test -f cases.yaml` runs each case `{name, reader: {roles, attributes?, mfa?}, sql, expect: rows}`
 * as that hypothetical reader (the server's simulation: policy writers only, over data they read
 * unmasked) and prints a readable diff; exit status 1 when any case fails (usable in CI).
 *
 * File: `{ workspace?: string, policies: [{ name, target, when?, unless?, masks?, hide?, rowFilter?, description? }] }`
 * (YAML or JSON).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { loadCredentials, sessionRequest } from './credentials.ts';

const fileSchema = z.strictObject({
  workspace: z.string().optional(),
  policies: z
    .array(z.looseObject({ name: z.string() }))
    .min(1)
    .max(500),
});

const casesSchema = z.strictObject({
  workspace: z.string().optional(),
  cases: z
    .array(
      z.strictObject({
        name: z.string(),
        reader: z.looseObject({ roles: z.array(z.string()) }),
        sql: z.string(),
        expect: z.array(z.array(z.unknown())),
      }),
    )
    .min(1),
});

type Diff = Record<'masked' | 'unmasked' | 'hidden' | 'shown' | 'filtersAdded' | 'filtersRemoved', string[]> & {
  reader: unknown;
};
type Saved = { name: string; version: number; changed: boolean; dryRun: boolean; accessDiff?: Diff[] };
/** YAML (or JSON) text → value; the YAML library loads with the first file, not with every command. */
async function parseYaml(text: string): Promise<unknown> {
  const { parse } = await import('yaml');
  return parse(text);
}

const base = (workspaceId: string) => `/api/v1/workspaces/${encodeURIComponent(workspaceId)}/data-policies`;

async function request() {
  return sessionRequest(await loadCredentials());
}

export function registerPolicyCommand(program: Command): void {
  const policy = program
    .command('policy')
    .description('Data protection policies: masks, hidden columns, row filters (sign in first with strongroom login)');
  policy
    .command('apply')
    .description('Create or update the policies of a YAML/JSON file (idempotent)')
    .requiredOption('-f, --file <path>', 'policies file')
    .option('--workspace <ws>', 'workspace id (default: the file\'s, else "default")')
    .option('--dry-run', 'validate every policy on the server, write nothing')
    .action(async (o: { file: string; workspace?: string; dryRun?: boolean }) => {
      const doc = fileSchema.parse(await parseYaml(await readFile(o.file, 'utf8')));
      const workspaceId = o.workspace ?? doc.workspace ?? 'default';
      const call = await request();
      for (const { name, ...body } of doc.policies) {
        const r = await call<Saved>('PUT', `${base(workspaceId)}/${encodeURIComponent(name)}`, {
          policy: body,
          dryRun: o.dryRun === true,
        }).catch((err: unknown) => {
          process.stderr.write(`${name}: refused\n`);
          throw err;
        });
        const what = !r.changed ? 'unchanged' : o.dryRun ? 'would change' : 'saved';
        process.stdout.write(`${name}: ${what} (version ${r.version})\n`);
        for (const d of r.accessDiff ?? []) {
          const parts = [
            ...d.masked.map((c) => `+mask ${c}`),
            ...d.unmasked.map((c) => `-mask ${c}`),
            ...d.hidden.map((c) => `+hide ${c}`),
            ...d.shown.map((c) => `-hide ${c}`),
            ...d.filtersAdded.map((f) => `+filter ${f}`),
            ...d.filtersRemoved.map((f) => `-filter ${f}`),
          ];
          if (o.dryRun) process.stdout.write(`  ${JSON.stringify(d.reader)}: ${parts.join(', ')}\n`);
        }
      }
    });
  policy
    .command('test')
    .description('Run policy test cases (reader, SQL, expected rows) through simulation; exit 1 on a mismatch')
    .requiredOption('-f, --file <path>', 'cases file (YAML/JSON)')
    .option('--workspace <ws>', 'workspace id (default: the file\'s, else "default")')
    .action(async (o: { file: string; workspace?: string }) => {
      const doc = casesSchema.parse(await parseYaml(await readFile(o.file, 'utf8')));
      const workspaceId = o.workspace ?? doc.workspace ?? 'default';
      const call = await request();
      let failed = 0;
      for (const c of doc.cases) {
        const r = await call<{ rows: unknown[][] }>(
          'POST',
          `/api/v1/workspaces/${encodeURIComponent(workspaceId)}/query`,
          {
            sql: c.sql,
            as: c.reader,
          },
        );
        const got = JSON.stringify(r.rows);
        const want = JSON.stringify(c.expect);
        if (got === want) process.stdout.write(`ok   ${c.name}\n`);
        else {
          failed += 1;
          process.stdout.write(`FAIL ${c.name}\n  expected ${want}\n  got      ${got}\n`);
        }
      }
      process.stdout.write(`${doc.cases.length - failed} passed, ${failed} failed\n`);
      if (failed > 0) process.exitCode = 1;
    });
  policy
    .command('list')
    .description('The policies in force')
    .option('--workspace <ws>', 'workspace id', 'default')
    .option('--json', 'print JSON')
    .action(async (o: { workspace: string; json?: boolean }) => {
      const r = await (
        await request()
      )<{
        policies: { name: string; version: number; updatedBy: string; updatedAt: string; policy: { target: object } }[];
      }>('GET', base(o.workspace));
      if (o.json) return void process.stdout.write(`${JSON.stringify(r.policies, null, 2)}\n`);
      for (const p of r.policies)
        process.stdout.write(`${p.name}  v${p.version}  ${JSON.stringify(p.policy.target)}  ${p.updatedAt}\n`);
    });
  policy
    .command('show <name>')
    .description('One policy (JSON)')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (name: string, o: { workspace: string }) => {
      const r = await (await request())<unknown>('GET', `${base(o.workspace)}/${encodeURIComponent(name)}`);
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    });
  policy
    .command('history <name>')
    .description('Every version of a policy, newest first (JSON)')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (name: string, o: { workspace: string }) => {
      const r = await (await request())<unknown>('GET', `${base(o.workspace)}/${encodeURIComponent(name)}/history`);
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    });
  policy
    .command('delete <name>')
    .description('Delete a policy (its history stays)')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (name: string, o: { workspace: string }) => {
      await (
        await request()
      )<unknown>('DELETE', `${base(o.workspace)}/${encodeURIComponent(name)}`);
      process.stdout.write(`deleted ${name}\n`);
    });
}
