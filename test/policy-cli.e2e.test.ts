/**
 * `strongroom policy apply|list|show|history|delete` against a real server (issue 17): a YAML file
 * applied with --dry-run writes nothing; applied for real it creates each policy; applied again it
 * changes nothing (idempotent); an edit makes version 2; a conflicting file is refused naming both
 * policies; history and delete work; the policies are enforced on a query; and `policy test`
 * runs cases through simulation with a readable diff and exit status 1 on a mismatch.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { cliAsync, cliCredentials } from './helpers/cli.ts';
import { jsonBody, ownerSession, type Session } from './helpers/identity.ts';

let app: TestApp;
let dir: string;
let env: Record<string, string>;
let owner: Session;
let ownerId = '';
const cli = (args: string[]) => cliAsync(args, env);

const FILE = `workspace: default
policies:
  - name: cards
    description: last four digits only
    target: { dataset: payments }
    masks:
      - { column: card, kind: show_last_n, n: 4 }
  - name: eu-only
    target: { dataset: payments }
    rowFilter: "region = 'eu'"
`;

before(async () => {
  app = await startTestApp('pglite');
  dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-policycli-'));
  const o = await ownerSession(app, 'policy-cli@corp.test');
  owner = o.session;
  ownerId = o.user.id;
  env = await cliCredentials(dir, app, owner, 'policy-cli@corp.test');
  const csv = 'card,region\n4111111111111111,eu\n5500000000000004,us\n';
  const up = await owner.req('/api/v1/workspaces/default/datasets/payments/versions?filename=p.csv', {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: csv,
  });
  assert.equal(up.status, 201, up.body);
});
after(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

test('apply is idempotent, has a dry run, refuses conflicts; list/show/history/delete', async () => {
  const file = path.join(dir, 'policies.yaml');
  await writeFile(file, FILE);
  const dry = await cli(['policy', 'apply', '-f', file, '--dry-run']);
  assert.equal(dry.status, 0, dry.stderr);
  assert.equal(
    dry.stdout,
    [
      'cards: would change (version 1)',
      ...['owner', 'admin', 'steward', 'engineer', 'analyst', 'viewer', 'auditor'].map(
        (r) => `  {"roles":["${r}"],"attributes":{},"mfa":false}: +mask card`,
      ),
      'eu-only: would change (version 1)',
      ...['owner', 'admin', 'steward', 'engineer', 'analyst', 'viewer', 'auditor'].map(
        (r) => `  {"roles":["${r}"],"attributes":{},"mfa":false}: +filter eu-only`,
      ),
      '',
    ].join('\n'),
  );
  assert.equal((await cli(['policy', 'list'])).stdout, '', 'the dry run wrote nothing');

  const first = await cli(['policy', 'apply', '-f', file]);
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.stdout, 'cards: saved (version 1)\neu-only: saved (version 1)\n');
  const again = await cli(['policy', 'apply', '-f', file]);
  assert.equal(again.stdout, 'cards: unchanged (version 1)\neu-only: unchanged (version 1)\n');

  await writeFile(file, FILE.replace('n: 4', 'n: 2'));
  assert.equal(
    (await cli(['policy', 'apply', '-f', file])).stdout,
    'cards: saved (version 2)\neu-only: unchanged (version 1)\n',
  );

  const q = await owner.req('/api/v1/workspaces/default/query', jsonBody({ sql: 'SELECT card, region FROM payments' }));
  assert.equal(q.status, 200, q.body);
  assert.deepEqual(q.json<{ rows: unknown[][] }>().rows, [['**************11', 'eu']]);

  const clash = path.join(dir, 'clash.yaml');
  await writeFile(
    clash,
    'policies:\n  - name: cards-too\n    target: { dataset: payments }\n    masks: [{ column: card, kind: redact }]\n',
  );
  const refused = await cli(['policy', 'apply', '-f', clash]);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /cards-too: refused/);
  assert.match(refused.stderr, /"cards-too" and policy "cards" could both mask column "card"/);

  const cases = path.join(dir, 'cases.yaml');
  await writeFile(
    cases,
    [
      'cases:',
      '  - name: analysts see eu rows, last two digits',
      '    reader: { roles: [analyst] }',
      '    sql: SELECT card, region FROM payments',
      "    expect: [['**************11', eu]]",
      '  - name: a wrong expectation',
      '    reader: { roles: [analyst] }',
      '    sql: SELECT count(*) AS n FROM payments',
      "    expect: [['2']]",
      '',
    ].join('\n'),
  );
  // Simulation runs only over data the caller reads unmasked: grant that to this owner.
  const grant = await owner.req(
    '/api/v1/workspaces/default/policies',
    jsonBody({
      text: `permit (principal == User::"${ownerId}", action == Action::"dataset.read.unmasked", resource is Dataset) when { principal has workspace && resource in principal.workspace };`,
    }),
  );
  assert.equal(grant.status, 201, grant.body);
  const tested = await cli(['policy', 'test', '-f', cases]);
  assert.equal(tested.status, 1, tested.stderr);
  assert.equal(
    tested.stdout,
    'ok   analysts see eu rows, last two digits\nFAIL a wrong expectation\n  expected [["2"]]\n  got      [["1"]]\n1 passed, 1 failed\n',
  );

  const list = await cli(['policy', 'list']);
  assert.match(list.stdout, /^cards {2}v2 {2}\{"dataset":"payments"\}/m);
  const show = JSON.parse((await cli(['policy', 'show', 'cards'])).stdout) as { policy: { masks: { n: number }[] } };
  assert.equal(show.policy.masks[0]!.n, 2);
  const hist = JSON.parse((await cli(['policy', 'history', 'cards'])).stdout) as { versions: { version: number }[] };
  assert.deepEqual(
    hist.versions.map((v) => v.version),
    [2, 1],
  );
  assert.equal((await cli(['policy', 'delete', 'eu-only'])).stdout, 'deleted eu-only\n');
  const missing = await cli(['policy', 'show', 'eu-only']);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /No data policy/);
});
