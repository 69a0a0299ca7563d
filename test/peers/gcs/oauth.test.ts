/**
 * The GCS peer's token endpoint (`POST /token`), over raw HTTP: JWT-bearer grants are verified
 * (signature with node:crypto, kid, iss, aud, iat/exp, scope) and issued tokens carry the
 * account's grants, capped by the scope. Assertions are built here with node:crypto alone.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type GcsPeer, startGcsPeer } from './gcs-peer.ts';
import { registerServiceAccount, type ServiceAccountJson, serviceAccountKey } from './service-account.ts';

const BUCKET = 'tokens';
const RW = 'https://www.googleapis.com/auth/devstorage.read_write';
const RO = 'https://www.googleapis.com/auth/devstorage.read_only';
const GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

let peer: GcsPeer;
let writer: ServiceAccountJson;
let reader: ServiceAccountJson;

before(async () => {
  peer = await startGcsPeer({ buckets: [BUCKET] });
  writer = await registerServiceAccount(peer, { access: 'write' });
  reader = await registerServiceAccount(peer, { buckets: { [BUCKET]: 'read' } });
});
after(async () => {
  await peer?.stop();
});

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A signed assertion for `sa` with its own key unless `key` is given; `claims`/`header` override. */
function assertion(
  sa: ServiceAccountJson,
  over: { claims?: Record<string, unknown>; header?: Record<string, unknown>; key?: string } = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'RS256', typ: 'JWT', kid: sa.private_key_id, ...over.header };
  const claims = {
    iss: sa.client_email,
    scope: RW,
    aud: `${peer.url}/token`,
    iat: now,
    exp: now + 3600,
    ...over.claims,
  };
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), createPrivateKey(over.key ?? sa.private_key)).toString('base64url')}`;
}

async function grant(
  body: string | Record<string, string>,
  contentType = 'application/x-www-form-urlencoded',
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${peer.url}/token`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : new URLSearchParams(body).toString(),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const withAssertion = (a: string) => grant({ grant_type: GRANT, assertion: a });

async function upload(token: string, name: string): Promise<number> {
  const res = await fetch(`${peer.url}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
    body: 'x',
  });
  await res.arrayBuffer();
  return res.status;
}

async function list(token: string): Promise<number> {
  const res = await fetch(`${peer.url}/storage/v1/b/${BUCKET}/o`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('token endpoint', () => {
  test('a valid assertion gets a bearer token with the account’s grants', async () => {
    const { status, json } = await withAssertion(assertion(writer));
    assert.equal(status, 200);
    assert.equal(json['token_type'], 'Bearer');
    assert.ok(typeof json['expires_in'] === 'number' && json['expires_in'] > 3000);
    const token = json['access_token'] as string;
    assert.match(token, /^[\x21-\x7e]{20,}$/);
    assert.equal(await upload(token, 'w'), 200);
    const again = await withAssertion(assertion(writer));
    assert.notEqual(again.json['access_token'], token, 'tokens are random');
  });

  test('a read-only account reads but may not write; a read-only scope caps a writer', async () => {
    const ro = (await withAssertion(assertion(reader))).json['access_token'] as string;
    assert.equal(await list(ro), 200);
    assert.equal(await upload(ro, 'r'), 403);
    const capped = (await withAssertion(assertion(writer, { claims: { scope: RO } }))).json['access_token'] as string;
    assert.equal(await list(capped), 200);
    assert.equal(await upload(capped, 'c'), 403);
  });

  const invalidGrant: [string, () => string][] = [
    ['signed with another key (same kid)', () => assertion(writer, { key: serviceAccountKey(peer).json.private_key })],
    [
      'signed with another key (its own kid)',
      () => assertion(writer, { key: serviceAccountKey(peer).json.private_key, header: { kid: 'other' } }),
    ],
    [
      'claims changed after signing',
      () => {
        const [h, , s] = assertion(writer).split('.');
        const now = Math.floor(Date.now() / 1000);
        return `${h}.${b64({ iss: reader.client_email, scope: RW, aud: `${peer.url}/token`, iat: now, exp: now + 3600 })}.${s}`;
      },
    ],
    ['unknown account', () => assertion({ ...writer, client_email: 'nobody@strongroom-test.iam.gserviceaccount.com' })],
    [
      'audience of another endpoint',
      () => assertion(writer, { claims: { aud: 'https://oauth2.googleapis.com/token' } }),
    ],
    [
      'expired',
      () =>
        assertion(writer, {
          claims: { iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 },
        }),
    ],
    ['longer than an hour', () => assertion(writer, { claims: { exp: Math.floor(Date.now() / 1000) + 7200 } })],
    [
      'issued in the future',
      () =>
        assertion(writer, {
          claims: { iat: Math.floor(Date.now() / 1000) + 600, exp: Math.floor(Date.now() / 1000) + 1200 },
        }),
    ],
    ['alg none', () => `${b64({ alg: 'none' })}.${b64({ iss: writer.client_email })}.`],
    ['alg HS256', () => assertion(writer, { header: { alg: 'HS256' } })],
    ['two segments', () => assertion(writer).split('.').slice(0, 2).join('.')],
    ['padded base64', () => `${assertion(writer)}=`],
  ];
  for (const [name, make] of invalidGrant) {
    test(`invalid_grant: ${name}`, async () => {
      const { status, json } = await withAssertion(make());
      assert.equal(status, 400);
      assert.equal(json['error'], 'invalid_grant');
      assert.equal(typeof json['error_description'], 'string');
      assert.equal(json['access_token'], undefined);
    });
  }

  test('other refusals: grant type, content type, missing parts, scope', async () => {
    assert.deepEqual(
      (await grant({ grant_type: 'client_credentials', assertion: assertion(writer) })).json['error'],
      'unsupported_grant_type',
    );
    assert.equal((await grant({ grant_type: GRANT })).json['error'], 'invalid_request');
    assert.equal(
      (await grant(`grant_type=${encodeURIComponent(GRANT)}&assertion=${assertion(writer)}`, 'application/json')).json[
        'error'
      ],
      'invalid_request',
    );
    const noScope = await withAssertion(assertion(writer, { claims: { scope: undefined } }));
    assert.deepEqual([noScope.status, noScope.json['error']], [400, 'invalid_scope']);
    assert.equal(
      (await withAssertion(assertion(writer, { claims: { scope: 'https://www.googleapis.com/auth/bigquery' } }))).json[
        'error'
      ],
      'invalid_scope',
    );
    assert.equal(
      (await withAssertion(assertion(writer, { claims: { sub: 'someone@example.com' } }))).json['error'],
      'unauthorized_client',
    );
  });

  test('a made-up bearer token is still 401', async () => {
    assert.equal(await list('ya29.peer-made-up'), 401);
  });
});
