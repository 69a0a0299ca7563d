/**
 * Which backups to keep: N daily, N weekly, N monthly (default 7 / 4 / 12), never any older than
 * the maximum age — except that the newest verified backup is always kept, whatever its age.
 * Pure: the caller passes the clock, so a simulated year is a loop in a test.
 *
 * A period (UTC day, ISO week, month) keeps its newest complete backup; the newest N periods that
 * have one count. A backup kept for several reasons lists them all.
 */
export interface RotationPolicy {
  daily: number;
  weekly: number;
  monthly: number;
  maxAgeDays: number;
}

export interface RotationItem {
  id: string;
  createdAt: Date;
  verified: boolean;
}

export const DEFAULT_ROTATION: RotationPolicy = { daily: 7, weekly: 4, monthly: 12, maxAgeDays: 365 };

const day = (d: Date) => d.toISOString().slice(0, 10);
const month = (d: Date) => d.toISOString().slice(0, 7);
function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - dow);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** For each backup kept, why (`daily`, `weekly`, `monthly`, `newest-verified`); absent = delete. */
export function planRotation(items: readonly RotationItem[], policy: RotationPolicy, now: Date): Map<string, string[]> {
  const keep = new Map<string, string[]>();
  const add = (id: string, why: string) => keep.set(id, [...(keep.get(id) ?? []), why]);
  const newestFirst = [...items].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const maxAgeMs = policy.maxAgeDays * 86_400_000;
  const young = newestFirst.filter((i) => now.getTime() - i.createdAt.getTime() <= maxAgeMs);
  for (const [why, n, period] of [
    ['daily', policy.daily, day],
    ['weekly', policy.weekly, isoWeek],
    ['monthly', policy.monthly, month],
  ] as const) {
    const seen = new Set<string>();
    for (const i of young) {
      const p = period(i.createdAt);
      if (seen.has(p)) continue;
      if (seen.size >= n) break;
      seen.add(p);
      add(i.id, why);
    }
  }
  const newestVerified = newestFirst.find((i) => i.verified);
  if (newestVerified) add(newestVerified.id, 'newest-verified');
  return keep;
}
