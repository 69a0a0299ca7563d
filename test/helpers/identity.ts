/** Identity helpers for tests: users created directly, sign-in over HTTPS, session-authenticated requests. */
import { randomBytes } from 'node:crypto';
import { generateSync } from 'otplib';
import type { Role } from '../../src/modules/identity/index.ts';
import type { TestApp } from './app.ts';
import type { TestRequest, TestResponse } from './https.ts';

export const GOOD_PASSWORD = 'correct horse battery staple 42';

export async function createUser(
  app: TestApp,
  email: string,
  opts: {
    password?: string;
    role?: Role;
    workspace?: string;
    displayName?: string;
    attributes?: Record<string, string>;
  } = {},
) {
  return app.server.identity.users.create({
    email,
    displayName: opts.displayName ?? 'Test Person',
    password: opts.password ?? GOOD_PASSWORD,
    attributes: opts.attributes ?? {},
    memberships: [{ workspace: opts.workspace ?? 'default', role: opts.role ?? 'engineer' }],
  });
}

export async function createWorkspace(app: TestApp, id: string): Promise<void> {
  await app.server.database.db
    .insertInto('workspaces')
    .values({ id, name: id })
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export interface Session {
  cookie: string;
  id: string;
  csrf: string;
  res: TestResponse;
  /** A request with this session's cookie (and its CSRF token unless `csrf: false`). */
  req(pathname: string, opts?: Omit<TestRequest, 'ca'> & { csrf?: string | false }): Promise<TestResponse>;
}

export const jsonBody = (body: unknown, method = 'POST') => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

export function sessionFrom(app: TestApp, res: TestResponse, previous?: Session): Session {
  const set = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-sr_session='));
  const id = set ? set.split(';')[0]!.slice('__Host-sr_session='.length) : previous!.id;
  const body = res.body ? (JSON.parse(res.body) as { csrfToken?: string }) : {};
  const csrf = body.csrfToken ?? previous?.csrf ?? '';
  const s: Session = {
    cookie: `__Host-sr_session=${id}`,
    id,
    csrf,
    res,
    req: (pathname, o = {}) => {
      const { csrf: c, ...rest } = o;
      const headers: Record<string, string> = { cookie: s.cookie, ...rest.headers };
      if (c !== false && !['GET', 'HEAD'].includes(rest.method ?? 'GET')) headers['x-csrf-token'] = c ?? s.csrf;
      return app.req(pathname, { ...rest, headers });
    },
  };
  return s;
}

export async function login(app: TestApp, email: string, password = GOOD_PASSWORD): Promise<Session> {
  const res = await app.req('/api/v1/auth/login', jsonBody({ email, password }));
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.body}`);
  return sessionFrom(app, res);
}

export const totpNow = (secret: string, at = Date.now()) => generateSync({ secret, epoch: Math.floor(at / 1000) });

/** Enrol TOTP for a signed-in session; returns the secret, recovery codes and the rotated session. */
export async function enrolMfa(app: TestApp, s: Session, at = Date.now()) {
  const start = await s.req('/api/v1/auth/mfa/enrol', { method: 'POST' });
  if (start.status !== 200) throw new Error(`enrol failed: ${start.status} ${start.body}`);
  const secret = start.json<{ secret: string }>().secret;
  const verify = await s.req('/api/v1/auth/mfa/enrol/verify', jsonBody({ code: totpNow(secret, at) }));
  if (verify.status !== 200) throw new Error(`enrol verify failed: ${verify.status} ${verify.body}`);
  return {
    secret,
    recoveryCodes: verify.json<{ recoveryCodes: string[] }>().recoveryCodes,
    session: sessionFrom(app, verify, s),
    start,
  };
}

/** An owner of `workspace` (default: default) signed in with MFA enrolled; ready for admin routes. */
export async function ownerSession(
  app: TestApp,
  email = `owner-${randomBytes(4).toString('hex')}@corp.test`,
  workspaceId = 'default',
) {
  const user = await createUser(app, email, { role: 'owner', workspace: workspaceId });
  const s = await login(app, email);
  const mfa = await enrolMfa(app, s);
  return { user, session: mfa.session, secret: mfa.secret, recoveryCodes: mfa.recoveryCodes };
}
