/**
 * Structured JSON logs (pino). Logs are for operators, so they must never carry credentials:
 * every field whose name looks like a credential (password, secret, token, key, authorization,
 * cookie…) is replaced by "[REDACTED]" at any depth before the line is written. Request URLs are
 * logged without their query string, where tokens like to hide.
 */
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export const REDACTED = '[REDACTED]';

const SENSITIVE_KEY =
  /pass(word|phrase|wd)?|secret|token|authori[sz]ation|cookie|credential|api[-_]?key|private[-_]?key|key$|signature|dsn|connection[-_]?string|database[-_]?url/i;

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key);
}

const INLINE_SECRET =
  /\b((?:pass(?:word|phrase|wd)?|secret|token|api[-_]?key|private[-_]?key|authorization|cookie)["']?\s*[=:]\s*["']?)(?:Bearer\s+|Basic\s+)?[^\s"'&,;]+/gi;
const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]+@/gi;

/**
 * Scrub credentials written inline in free text (error messages from drivers and libraries):
 * `password=…`, `token: …`, `Authorization: Bearer …`, and the password in `scheme://user:pw@host`.
 */
export function scrubText(text: string): string {
  return text.replace(INLINE_SECRET, `$1${REDACTED}`).replace(URL_USERINFO, `$1${REDACTED}@`);
}

/** Deep copy of `value` with every sensitive field redacted. Cycles and depth are bounded. */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[TRUNCATED]';
  if (seen.has(value)) return '[CIRCULAR]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  if (value instanceof Error) {
    return serializeError(value);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSensitiveKey(k) ? REDACTED : redact(v, depth + 1, seen);
  }
  return out;
}

function serializeError(err: Error): Record<string, unknown> {
  const code = (err as NodeJS.ErrnoException).code;
  return {
    type: err.name,
    message: scrubText(String(err.message)),
    ...(code ? { code } : {}),
    stack: err.stack ? scrubText(err.stack) : undefined,
  };
}

function pathOnly(url: string | undefined): string | undefined {
  if (!url) return url;
  const q = url.indexOf('?');
  return q === -1 ? url : `${url.slice(0, q)}?[query redacted]`;
}

const SERIALIZED = new Set(['req', 'res', 'err']);

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: { service: 'strongroom' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      // req/res/err are left to their serializers below, which copy only safe fields.
      log: (obj) => {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(obj)) {
          out[k] = SERIALIZED.has(k) ? v : isSensitiveKey(k) ? REDACTED : redact(v);
        }
        return out;
      },
    },
    serializers: {
      req: (req: { method?: string; url?: string; ip?: string; id?: string }) => ({
        method: req.method,
        url: pathOnly(req.url),
        remoteAddress: req.ip,
      }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      err: serializeError,
    },
  };
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}
