/**
 * Where the time of a backup or a restore goes, phase by phase (the bench prints it; nothing
 * else reads it). Streamed phases overlap (the zlib and the upload run while the next rows are
 * read), so a phase's figure is the time its own step held the chunk, not a slice of wall time.
 * Only durations are kept: no row, key or name of anything stored.
 */
import type { Transform } from 'node:stream';

export class PhaseLog {
  readonly ms = new Map<string, number>();
  add(phase: string, ms: number): void {
    this.ms.set(phase, (this.ms.get(phase) ?? 0) + ms);
  }
  async time<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.add(phase, performance.now() - t0);
    }
  }
  reset(): void {
    this.ms.clear();
  }
  /** `phase=1.23s …` in the order the phases first ran. */
  format(): string {
    return [...this.ms].map(([k, v]) => `${k}=${(v / 1000).toFixed(2)}s`).join(' ');
  }
  /** Counts, into `phase`, the time each chunk spends in `stream`'s transform until it calls back. */
  meter<S extends Transform>(phase: string, stream: S): S {
    const original = stream._transform.bind(stream);
    stream._transform = (chunk, enc, cb) => {
      const t0 = performance.now();
      original(chunk, enc, (err, data) => {
        this.add(phase, performance.now() - t0);
        cb(err, data);
      });
    };
    return stream;
  }
}

/** The phases of the latest backup written and the latest backup loaded in this process. */
export const backupPhases = new PhaseLog();
export const restorePhases = new PhaseLog();
