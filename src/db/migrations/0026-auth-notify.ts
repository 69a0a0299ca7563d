import { sql, type Kysely } from 'kysely';

/**
 * Authentication-change notifications (issue 22): every server keeps a short-lived cache of live
 * sessions (src/modules/identity/identity.session-cache.ts). Whatever can change what a cached
 * session grants — the session's revocation, strength or proof time, its user's status,
 * attributes or MFA state, any of the user's memberships — sends `NOTIFY strongroom_auth,
 * '<user id>'` when its transaction commits, and every server listening drops what it cached
 * for that user. A session's sliding idle expiry (`last_seen_at`, `idle_expires_at`) does not
 * notify: the cache keeps its own copy of the expiries and re-checks them on every use.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function strongroom_auth_changed() returns trigger language plpgsql as $$
    declare
      before_user text := case when tg_op <> 'INSERT' then coalesce(to_jsonb(old)->>'user_id', to_jsonb(old)->>'id') end;
      after_user text := case when tg_op <> 'DELETE' then coalesce(to_jsonb(new)->>'user_id', to_jsonb(new)->>'id') end;
    begin
      if before_user is not null then perform pg_notify('strongroom_auth', before_user); end if;
      if after_user is not null and after_user is distinct from before_user then
        perform pg_notify('strongroom_auth', after_user);
      end if;
      return null;
    end $$`.execute(db);
  await sql`create trigger sessions_auth_changed after update of revoked_at, strength, authenticated_at, absolute_expires_at, user_id or delete on sessions
    for each row execute function strongroom_auth_changed()`.execute(db);
  await sql`create trigger users_auth_changed after update or delete on users
    for each row execute function strongroom_auth_changed()`.execute(db);
  await sql`create trigger memberships_auth_changed after insert or update or delete on memberships
    for each row execute function strongroom_auth_changed()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger memberships_auth_changed on memberships`.execute(db);
  await sql`drop trigger users_auth_changed on users`.execute(db);
  await sql`drop trigger sessions_auth_changed on sessions`.execute(db);
  await sql`drop function strongroom_auth_changed()`.execute(db);
}
