/**
 * A scripted "browser" for sign-in flows across origins: follows redirects, keeps a cookie jar
 * per origin (names only; path and expiry ignored), trusts one root per origin, talks to loopback only.
 */
import { request as httpsRequest, type TestResponse } from './https.ts';

export class Browser {
  readonly jar = new Map<string, Map<string, string>>();
  /** `roots`: the certificate each origin presents (self-signed test certificates share a subject name). */
  constructor(private readonly roots: Record<string, string>) {}

  cookie(origin: string, name: string): string | undefined {
    return this.jar.get(origin)?.get(name);
  }
  setCookie(origin: string, name: string, value: string): void {
    const j = this.jar.get(origin) ?? new Map<string, string>();
    j.set(name, value);
    this.jar.set(origin, j);
  }

  async fetch(
    url: string,
    opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<TestResponse> {
    const u = new URL(url);
    if (u.hostname !== 'localhost' && u.hostname !== '127.0.0.1')
      throw new Error(`refusing to browse to ${u.hostname}`);
    const jar = this.jar.get(u.origin) ?? new Map<string, string>();
    this.jar.set(u.origin, jar);
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await httpsRequest(url, {
      ...opts,
      headers: { ...(cookie ? { cookie } : {}), ...opts.headers },
      ca: this.roots[u.origin] ?? '',
    });
    for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
      const [pair, ...attrs] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(a));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }

  /** Follows redirects until `stop(url)` says the next URL is the caller's to request, or a non-redirect. */
  async follow(url: string, stop: (next: URL) => boolean, max = 15): Promise<{ res?: TestResponse; next: URL }> {
    let next = new URL(url);
    for (let i = 0; i < max; i++) {
      if (i > 0 && stop(next)) return { next };
      const res = await this.fetch(next.href);
      const loc = res.headers.location;
      if (res.status < 300 || res.status >= 400 || typeof loc !== 'string') return { res, next };
      next = new URL(loc, next);
    }
    throw new Error('too many redirects');
  }
}
