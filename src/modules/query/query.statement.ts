/**
 * From user SQL to the statement that runs: parse (DuckDB's parser), check (the allowlist),
 * resolve each dataset name for the caller, put the reader's relation in its place, and rebuild
 * the text from the checked tree. Also the audit view of the statement: its text with every
 * literal replaced by '?', and a fingerprint of that text — never the raw SQL.
 */
import type { Actor } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import type { ResourceRef } from '../../core/resource.ts';
import { readerRelation, type ReadWhy } from './query.relation.ts';
import {
  checkTree,
  cteNames,
  fingerprintOf,
  parseTreeJson,
  replaceDatasets,
  treeToJson,
  unknownDataset,
  withoutLiterals,
  type Node,
} from './query.sql-check.ts';
import type { Parser, QueryDeps } from './query.deps.ts';
import { withMinGroupSize } from './query.threshold.ts';

export type { Parser } from './query.deps.ts';

export interface Resolved {
  sql: string;
  params: Record<string, string | number | boolean | null>;
  note: { datasets: string[]; fingerprint: string; statement: string; why: Record<string, ReadWhy> };
  release: () => void;
  keepDir?: boolean;
  /** Columns data policies hide from the reader in the datasets read (errors never name them). */
  hidden: string[];
}

export interface ResolvedVersion {
  name: string;
  version: number;
  tags: readonly string[];
  format: 'csv' | 'jsonl' | 'parquet';
  sha256: string;
  size: number;
}

/** The version a reader means by `name` / `name@vN`; a dataset they may not read is "no such dataset". */
export async function resolveVersion(
  deps: Pick<QueryDeps, 'datasets'>,
  workspaceId: string,
  name: string,
  version: number | undefined,
  allowed: (ref: ResourceRef) => boolean,
  missing: () => AppError,
): Promise<ResolvedVersion> {
  const row = await deps.datasets.find(workspaceId, name);
  if (!row || !allowed({ type: 'dataset', id: name, workspace: workspaceId, tags: row.tags })) throw missing();
  const versions = await deps.datasets.versions(workspaceId, name);
  const v =
    version === undefined
      ? versions.reduce<(typeof versions)[number] | undefined>(
          (a, b) => (!a || b.version > a.version ? b : a),
          undefined,
        )
      : versions.find((x) => x.version === version);
  if (!v) throw missing();
  if (v.tabularFormat !== 'csv' && v.tabularFormat !== 'jsonl' && v.tabularFormat !== 'parquet')
    throw new AppError('NOT_TABULAR', {
      detail: `${name} version ${v.version} is not tabular (CSV, Parquet or JSON lines): download it instead.`,
    });
  return { name, version: v.version, tags: row.tags, format: v.tabularFormat, sha256: v.sha256, size: v.size };
}

async function relationNode(parser: Parser, sql: string): Promise<Node> {
  const t = parseTreeJson(await parser.serialize(sql));
  const node = (t.statements as Node[] | undefined)?.[0]?.node as Node | undefined;
  if (t.error === true || !node) throw new Error('the reader relation does not parse');
  return node;
}

export async function prepareStatement(
  deps: Pick<QueryDeps, 'datasets' | 'copies' | 'parser' | 'policies'>,
  actor: Actor,
  ws: string,
  sql: string,
  allowed: (action: string, ref: ResourceRef) => boolean,
  action: string,
  /** Simulation: the policies of this reader apply instead (the caller must read raw). */
  as?: Actor,
  /** The read's deadline: waiting for (and building) query copies stops when it aborts. */
  signal?: AbortSignal,
): Promise<Resolved> {
  if (sql.trim() === '') throw new AppError('QUERY_INVALID', { detail: 'The statement is empty.' });
  const tree = parseTreeJson(await deps.parser.serialize(sql));
  const refs = checkTree(sql, tree).filter((r) => r.name !== '');
  if (refs.length === 0) throw new AppError('QUERY_INVALID', { detail: 'Name at least one dataset to read.' });
  const ctes = cteNames(tree);

  const held: { release: () => void }[] = [];
  const release = () => held.forEach((h) => h.release());
  try {
    const byRef = new Map<string, { node: Node; label: string }>();
    let threshold: { dataset: string; k: number } | undefined;
    const params: Resolved['params'] = {};
    const why: Record<string, ReadWhy> = {};
    for (const r of refs) {
      if (byRef.has(r.ref.toLowerCase())) continue;
      const v = await resolveVersion(
        deps,
        ws,
        r.name,
        r.version,
        (ref) => allowed(action, ref),
        () => unknownDataset(sql, r.ref, r.position),
      );
      const source = { workspaceId: ws, dataset: v.name, tags: v.tags };
      const prefix = `sr_${byRef.size}_`;
      let plan = (await deps.policies?.planFor(actor, source, prefix)) ?? null;
      if (as) {
        // Simulating shows no more than the caller may see: only over data they read raw.
        if (plan && !plan.why.unmasked)
          throw new AppError('FORBIDDEN', {
            detail: `Data policies apply to you on ${v.name}; simulate only over datasets you read unmasked.`,
          });
        plan = (await deps.policies?.planFor(as, source, prefix)) ?? null;
      }
      const copy = await deps.copies.acquireFor({ workspaceId: ws, dataset: v.name, ...v }, plan, signal);
      held.push(copy);
      const rel = readerRelation(
        actor,
        { ...source, version: v.version, scan: { kind: 'parquet', path: copy.path } },
        plan,
        copy.precomputed,
      );
      if (plan) why[`${v.name}@v${v.version}`] = plan.why;
      const k = plan?.why.threshold?.minGroupSize;
      if (k !== undefined && (!threshold || k > threshold.k)) threshold = { dataset: v.name, k };
      Object.assign(params, rel.params);
      byRef.set(r.ref.toLowerCase(), {
        node: await relationNode(deps.parser, rel.sql),
        label: `${v.name}@v${v.version}`,
      });
    }
    const statement = (tree.statements as Node[])[0]!;
    let shaped = statement;
    if (threshold) {
      if (refs.length > 1)
        throw new AppError('FORBIDDEN', {
          detail: `${threshold.dataset} answers only aggregate queries over groups of at least ${threshold.k} rows: name it once, with no other dataset, join or subquery.`,
          meta: { minGroupSize: threshold.k },
        });
      const h = parseTreeJson(await deps.parser.serialize(`SELECT 1 HAVING count(*) >= ${Math.trunc(threshold.k)}`));
      const having = ((h.statements as Node[])[0]!.node as Node).having as Node;
      shaped = withMinGroupSize(sql, statement, threshold.dataset, threshold.k, having);
    }
    const replaced = replaceDatasets(
      shaped,
      (n) => ctes.has(n.toLowerCase()),
      (n) => ({
        type: 'SUBQUERY',
        alias: n.alias || n.table_name,
        sample: n.sample ?? null,
        query_location: n.query_location,
        subquery: { node: byRef.get(String(n.table_name).toLowerCase())!.node, named_param_map: [] },
        column_name_alias: n.column_name_alias ?? [],
      }),
    );
    const text = await deps.parser.deserialize(treeToJson({ error: false, statements: [replaced] }));
    const normalized = await deps.parser.deserialize(
      treeToJson({ error: false, statements: [withoutLiterals(statement)] }),
    );
    return {
      sql: text,
      params,
      release,
      hidden: [...new Set(Object.values(why).flatMap((w) => Object.keys(w.hidden)))],
      note: {
        datasets: [...new Set([...byRef.values()].map((b) => b.label))],
        fingerprint: fingerprintOf(normalized),
        statement: normalized.slice(0, 2000),
        why,
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}
