/**
 * `npm run reliability -- fuzz [--budget N | --long] [--seed S] [--timeout MS]`: every operation of
 * the OpenAPI document, fuzzed with fast-check for the owner, a viewer, the operator and no one.
 * Every answer must come in time, be below 500, be problem+json when it is an error, and carry no
 * internals; a refused request (4xx) must leave the guarded tables as they were. Requests go round
 * robin over the operations, each drawn from (seed, index), so a run is reproducible from its seed.
 * A failing operation is then searched again with fast-check, which shrinks the case it prints.
 * Ends with `reliability-fuzz: tried=… passed=… failed=… seed=…`.
 */
import fc from 'fast-check';
import { operationArb, type Generated, type Operation } from './fuzz/arbitraries.ts';
import { checkAnswer, makeSender, type FuzzRequest } from './fuzz/client.ts';
import { startWorld, type World } from './fuzz/world.ts';

const CI_BUDGET = 2000;
const LONG_BUDGET = 20_000;

type Doc = { paths: Record<string, Record<string, Record<string, unknown>>> } & Record<string, unknown>;

function operations(doc: Doc): Operation[] {
  const ops: Operation[] = [];
  for (const [template, byMethod] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(byMethod)) {
      const params = (op.parameters ?? []) as { in: string; name: string; schema: Record<string, unknown> }[];
      const content = ((op.requestBody as { content?: Record<string, { schema?: Record<string, unknown> }> })
        ?.content ?? {}) as Record<string, { schema?: Record<string, unknown> }>;
      ops.push({
        method: method.toUpperCase(),
        template,
        query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        media: Object.keys(content),
        jsonSchema: content['application/json']?.schema,
      });
    }
  return ops;
}

/** The wire request for a generated case (credentials of the role, then the header lie). */
function toRequest(op: Operation, g: Generated, world: World): FuzzRequest {
  let path = op.template.replace(/\{([^}]+)\}/g, (_, p: string) => g.pathParams[p] ?? '');
  if (g.query.length > 0)
    path += `?${g.query.map(([k, v]) => `${encodeURIComponent(k)}=${k === '%zz' ? v : encodeURIComponent(v)}`).join('&')}`;
  const headers: Record<string, string | string[]> = { ...world.headersFor(g.role) };
  if (g.body.contentType) headers['content-type'] = g.body.contentType;
  let body = g.body.text;
  switch (g.headerLie) {
    case 'content-type text/plain':
      headers['content-type'] = 'text/plain';
      break;
    case 'content-type duplicated':
      headers['content-type'] = ['application/json', 'application/octet-stream'];
      break;
    case 'csrf duplicated':
      headers['x-csrf-token'] = [String(headers['x-csrf-token'] ?? 'a'), 'forged'];
      break;
    case 'auth duplicated':
      headers.authorization = [`Bearer ${world.app.operatorToken}`, 'Bearer srt_forged'];
      break;
    case 'content-length short':
      headers['content-length'] = String(Math.max(0, Buffer.byteLength(body) - 1));
      break;
    case 'content-length not a number':
      headers['content-length'] = 'twelve';
      break;
    case 'huge cookie':
      headers.cookie = `${String(headers.cookie ?? 'a=b')}; big=${'x'.repeat(20_000)}`;
      break;
    case 'many cookies':
      headers.cookie = [
        String(headers.cookie ?? 'a=b'),
        ...Array.from({ length: 50 }, (_, i) => `__Host-sr_session=f${i}`),
      ];
      break;
    case 'charset utf-16':
      headers['content-type'] = 'application/json; charset=utf-16';
      body = Buffer.from(typeof body === 'string' ? body : body.toString('latin1'), 'utf16le');
      break;
    case 'transfer-encoding twice':
      headers['transfer-encoding'] = ['chunked', 'identity'];
      break;
  }
  return { method: g.method, path, headers, body };
}

export interface FuzzOptions {
  budget: number;
  seed: number;
  timeoutMs: number;
  log?: (line: string) => void;
}

export interface FuzzResult {
  tried: number;
  passed: number;
  failed: number;
  seed: number;
  operations: number;
  findings: string[];
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const world = await startWorld();
  try {
    const doc = (await world.app.req('/api/v1/openapi.json')).json<Doc>();
    const ops = operations(doc);
    const send = makeSender(world.app.server.httpsPort, world.app.ca, opts.timeoutMs);
    const arbs = ops.map((op) => operationArb(op, doc, world.plausible(op.template)));

    /** Problems with one case; restores the world after a request that may have changed it. */
    async function attempt(op: Operation, g: Generated): Promise<string[]> {
      const before = await world.fingerprint();
      const request = toRequest(op, g, world);
      const answer = await send(request);
      const problems = checkAnswer(answer, world.app.home, request);
      if (answer.status >= 500) {
        // What the server logged about it (never shown to the caller): the first clue to the cause.
        const id = String(answer.headers['x-request-id']);
        const line = world.app.logs.find((l) => l.includes(id) && /"level":(50|40)/.test(l));
        if (line) problems.push(`server log: ${line.slice(0, 700)}`);
      }
      if (answer.status >= 400 && answer.status < 500) {
        const after = await world.fingerprint();
        const changed = Object.keys(after).filter((t) => after[t] !== before[t]);
        if (changed.length > 0) problems.push(`refused (${answer.status}) yet changed ${changed.join(', ')}`);
      }
      if (answer.status < 400 || answer.status >= 500 || answer.failure) await world.restore();
      return problems;
    }

    let passed = 0;
    const findings = new Map<string, { op: number; index: number; example: string }>();
    for (let i = 0; i < opts.budget; i++) {
      const k = i % ops.length;
      const [g] = fc.sample(arbs[k]!, { seed: opts.seed + i, numRuns: 1 });
      const problems = await attempt(ops[k]!, g!);
      if (problems.length === 0) passed++;
      for (const p of problems.filter((x) => !x.startsWith('server log'))) {
        const key = `${ops[k]!.method} ${ops[k]!.template}: ${p.replace(/\d{4,}/g, 'N')}`;
        if (!findings.has(key)) findings.set(key, { op: k, index: i, example: JSON.stringify(g).slice(0, 400) });
      }
      if (problems.length > 0) log(`FAIL #${i} ${ops[k]!.method} ${ops[k]!.template}: ${problems.join('; ')}`);
    }

    // Shrink one case per distinct finding (at most five): fast-check searches the operation again from the seed.
    const report: string[] = [];
    for (const [key, f] of [...findings].slice(0, 5)) {
      const op = ops[f.op]!;
      const out = await fc.check(
        fc.asyncProperty(arbs[f.op]!, async (g) => (await attempt(op, g)).length === 0),
        { seed: opts.seed + f.index, numRuns: 200 },
      );
      const shrunk = out.failed
        ? JSON.stringify(out.counterexample?.[0]).slice(0, 600)
        : `(not reproduced; first seen: ${f.example})`;
      report.push(`${key}\n  reproduce: --seed ${opts.seed} (request #${f.index}); shrunk case: ${shrunk}`);
    }
    for (const r of report) log(`finding: ${r}`);
    return {
      tried: opts.budget,
      passed,
      failed: opts.budget - passed,
      seed: opts.seed,
      operations: ops.length,
      findings: [...findings.keys()],
    };
  } finally {
    await world.close();
  }
}

function argsOf(argv: string[]): FuzzOptions {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const seed = value('--seed') !== undefined ? Number(value('--seed')) : Math.floor(Math.random() * 2 ** 31);
  const budget = argv.includes('--long') ? LONG_BUDGET : Number(value('--budget') ?? CI_BUDGET);
  const timeoutMs = Number(value('--timeout') ?? 10_000);
  if (![seed, budget, timeoutMs].every((n) => Number.isInteger(n) && n >= 0)) {
    console.error('usage: npm run reliability -- fuzz [--budget N | --long] [--seed S] [--timeout MS]');
    process.exit(2);
  }
  return { budget, seed, timeoutMs };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const opts = argsOf(process.argv.slice(2));
  console.log(`reliability-fuzz: seed=${opts.seed} budget=${opts.budget} (reproduce with --seed ${opts.seed})`);
  const started = Date.now();
  const r = await runFuzz(opts);
  console.log(`operations=${r.operations} seconds=${((Date.now() - started) / 1000).toFixed(1)}`);
  console.log(`reliability-fuzz: tried=${r.tried} passed=${r.passed} failed=${r.failed} seed=${r.seed}`);
  process.exit(r.failed === 0 ? 0 : 1);
}
