/** Shared CLI plumbing: config loading with clean errors, and output helpers. */
import { ApiError } from '../client/http-client.ts';
import { ConfigError, loadConfig, type Config } from '../core/config.ts';
import { AppError } from '../core/errors.ts';
import { DatabaseUrlError } from '../db/connection-options.ts';
import { DirLockedError } from '../db/dir-lock.ts';
import { EXIT } from './exit-codes.ts';

export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function configOrExit(): Readonly<Config> {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError)
      throw new CliExit(EXIT.USAGE, `${err.message}\nRun 'strongroom config' to see every variable.`);
    throw err;
  }
}

/** Translate known failures into a one-paragraph message and an exit code; rethrow the rest. */
export function explain(err: unknown): CliExit {
  if (err instanceof CliExit) return err;
  if (err instanceof ConfigError) return new CliExit(EXIT.USAGE, err.message);
  if (err instanceof DatabaseUrlError) return new CliExit(EXIT.USAGE, `DATABASE_URL: ${err.message}`);
  if (err instanceof DirLockedError) return new CliExit(EXIT.FAILED, err.message);
  if (err instanceof ApiError) {
    // A validation problem names each field it refused (`issues`): say which, not only that.
    const issues = Array.isArray(err.problem?.issues) ? (err.problem.issues as unknown[]) : [];
    const fields = issues
      .slice(0, 10)
      .map((i) => i as { path?: unknown; message?: unknown })
      .filter((i) => typeof i.message === 'string')
      .map((i) => `\n  ${typeof i.path === 'string' && i.path !== '' ? `${i.path}: ` : ''}${String(i.message)}`)
      .join('');
    return new CliExit(
      err.status === 422 || err.status === 400 ? EXIT.USAGE : EXIT.FAILED,
      `server refused (${err.status} ${err.code}): ${err.message}${fields}`,
    );
  }
  if (err instanceof AppError) return new CliExit(EXIT.FAILED, err.detail ?? err.message);
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EADDRINUSE')
    return new CliExit(
      EXIT.FAILED,
      `A port is already in use (${e.message.replace(/^listen /, '')}). Choose another with STRONGROOM_HTTPS_PORT / STRONGROOM_HTTP_PORT / STRONGROOM_METRICS_PORT.`,
    );
  if (e?.code === 'EACCES') return new CliExit(EXIT.FAILED, `Permission denied: ${e.message}`);
  if (e?.code === 'ECONNREFUSED') return new CliExit(EXIT.FAILED, `Connection refused: ${e.message}`);
  return new CliExit(EXIT.FAILED, `Unexpected error: ${e?.message ?? String(err)}`);
}
