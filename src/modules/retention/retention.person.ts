/**
 * A person's rights: export everything held about a user, and erase it. The audit trail names
 * people by their account id (a random UUID), never by email; an erasure replaces every personal
 * column of the account row, so the id no longer leads to anyone, and the chain is untouched
 * (`audit verify` stays green). The erasure event carries an HMAC of the erased email (audit HMAC
 * key) so an auditor holding the email can confirm that this account was erased, without the
 * trail storing it.
 */
import type { Kysely } from 'kysely';
import type { AuditEvent } from '../../core/audit/event.ts';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { AuditModule } from '../audit/index.ts';
import * as person from './retention.person.store.ts';
import { holdsOnUser, type Db } from './retention.store.ts';

/** Audit events per export, at most (the newest are kept when there are more). */
export const EXPORT_EVENT_LIMIT = 50_000;

export function createPersonRights(deps: { db: Kysely<Database>; audit: Pick<AuditModule, 'hmac' | 'search'> }) {
  return {
    /** Everything about one user, as JSON-ready values. NOT_FOUND for an unknown id. */
    async exportPerson(userId: string) {
      const account = await person.readAccount(deps.db, userId);
      if (!account) throw new AppError('NOT_FOUND', { detail: 'No such user.' });
      const rows = await person.readPersonRows(deps.db, userId);
      const events: AuditEvent[] = [];
      let cursor: string | undefined;
      do {
        const page = await deps.audit.search({
          actor: userId,
          limit: 1000,
          order: 'asc',
          ...(cursor ? { cursor } : {}),
        });
        events.push(...page.events);
        cursor = page.nextCursor ?? undefined;
      } while (cursor && events.length < EXPORT_EVENT_LIMIT);
      const iso = (d: Date | null) => d?.toISOString() ?? null;
      return {
        format: 'strongroom/person-export/v1',
        account: {
          id: account.id,
          email: account.email,
          displayName: account.display_name,
          status: account.status,
          attributes: account.attributes,
          mfa: { enabled: account.mfa_enabled, totpConfirmedAt: iso(rows.totp?.confirmed_at ?? null) },
          createdAt: iso(account.created_at),
          updatedAt: iso(account.updated_at),
        },
        memberships: rows.memberships.map((m) => ({
          workspace: m.workspace_id,
          role: m.role,
          since: iso(m.created_at),
        })),
        sessions: rows.sessions.map((s) => ({
          strength: s.strength,
          createdAt: iso(s.created_at),
          lastSeenAt: iso(s.last_seen_at),
          expiresAt: iso(s.absolute_expires_at),
          revokedAt: iso(s.revoked_at),
          sourceIp: s.source_ip,
        })),
        tokens: rows.tokens.map((t) => ({
          id: t.id,
          name: t.name,
          workspace: t.workspace_id,
          scopes: t.scopes,
          createdAt: iso(t.created_at),
          expiresAt: iso(t.expires_at),
          revokedAt: iso(t.revoked_at),
          lastUsedAt: iso(t.last_used_at),
        })),
        externalIdentities: rows.identities.map((i) => ({
          issuer: i.issuer,
          subject: i.subject,
          since: iso(i.created_at),
        })),
        auditEvents: events,
        auditEventsTruncated: cursor !== undefined,
      };
    },

    /**
     * Erases a user inside `trx` (the caller's transaction, which also records the event);
     * `emailHmac` from `erasureHmac`.
     * Refused while a legal hold covers the user, or when they are a workspace's only owner.
     */
    /** The HMAC of the account's email (the erasure event's pseudonym); NOT_FOUND for an unknown id. */
    async erasureHmac(userId: string): Promise<string> {
      const account = await person.readAccount(deps.db, userId);
      if (!account) throw new AppError('NOT_FOUND', { detail: 'No such user.' });
      return deps.audit.hmac(account.email.toLowerCase());
    },

    async erasePerson(trx: Db, userId: string, emailHmac: string) {
      const account = await person.readAccount(trx, userId);
      if (!account) throw new AppError('NOT_FOUND', { detail: 'No such user.' });
      if (account.email.endsWith('@erased.invalid'))
        throw new AppError('CONFLICT', { detail: 'This user was already erased.' });
      const holds = await holdsOnUser(trx, userId);
      if (holds.length > 0)
        throw new AppError('CONFLICT', {
          detail: `A legal hold covers this user (${holds.map((h) => h.id).join(', ')}); release it before erasing.`,
        });
      const sole = await person.soleOwnerOf(trx, userId);
      if (sole.length > 0)
        throw new AppError('CONFLICT', {
          detail: `This user is the only owner of ${sole.join(', ')}; make someone else owner first.`,
        });
      const counts = await person.erasePerson(trx, userId, account.email);
      return { userId, emailHmac, ...counts };
    },
  };
}
