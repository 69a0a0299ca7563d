/**
 * Transfer progress on standard error (standard output stays for data and results). On a
 * terminal: a cli-progress bar with bytes, rate and ETA. Otherwise (logs, CI, pipes): plain lines
 * at every 10 % or every 5 s, whichever comes first, and one at the end.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';

export interface Progress {
  /** A pass-through stream that counts the bytes flowing through it. */
  readonly meter: Transform;
  /** Counts bytes moved outside `meter` (parallel parts). */
  advance(bytes: number): void;
  /** Stops the bar (or prints the last line); `ok` false leaves it as it stood. */
  done(ok: boolean): void;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `1536` → `1.5 KiB`. */
export function formatBytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[i]}`;
}

const rate = (bytes: number, ms: number) => `${formatBytes(Math.round((bytes * 1000) / Math.max(ms, 1)))}/s`;

/** Progress of one transfer of `total` bytes (undefined: unknown), labelled `label`. */
/** `initial`: bytes already done before this run (a resumed upload); the rate counts only new ones. */
export function startProgress(
  label: string,
  total: number | undefined,
  opts: { quiet?: boolean; tty?: boolean; initial?: number } = {},
): Progress {
  const tty = opts.tty ?? Boolean(process.stderr.isTTY);
  const started = Date.now();
  const initial = opts.initial ?? 0;
  let bytes = initial;
  let bar: CliProgress.SingleBar | undefined;
  let lastLine = started;
  let lastTenth = 0;

  if (!opts.quiet && tty) {
    // Loaded here, by the first bar on a terminal, not by every command (the server included).
    const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
    bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: `${label} [{bar}] {percentage}% | {done} of {size} | {speed} | ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total ?? 0, initial, {
      done: formatBytes(initial),
      size: total === undefined ? '?' : formatBytes(total),
      speed: '-',
    });
  }

  const line = () => {
    const pct = total ? ` (${Math.floor((bytes / total) * 100)}%)` : '';
    process.stderr.write(
      `${label}: ${formatBytes(bytes)}${total === undefined ? '' : ` of ${formatBytes(total)}`}${pct}, ${rate(bytes - initial, Date.now() - started)}\n`,
    );
  };

  const advance = (n: number) => {
    bytes += n;
    if (bar) bar.update(bytes, { done: formatBytes(bytes), speed: rate(bytes - initial, Date.now() - started) });
    else if (!opts.quiet) {
      const tenth = total ? Math.floor((bytes / total) * 10) : 0;
      const now = Date.now();
      if ((total && tenth > lastTenth && bytes < total) || now - lastLine >= 5000) {
        lastTenth = tenth;
        lastLine = now;
        line();
      }
    }
  };
  const meter = new Transform({
    highWaterMark: 4 * 1024 * 1024,
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      advance(chunk.length);
      cb(null, chunk);
    },
  });

  return {
    meter,
    advance,
    done(ok) {
      if (bar) {
        if (ok) bar.update(bytes, { done: formatBytes(bytes), speed: rate(bytes - initial, Date.now() - started) });
        bar.stop();
      } else if (!opts.quiet && ok) line();
    },
  };
}
