/**
 * The reference side of `bench/query.ts`, in its own process so the server's RSS is not mixed
 * with it: DuckDB (the same @duckdb/node-api package the server uses) generating the bench files
 * and running the bench queries directly on the plaintext Parquet file, with the server's
 * per-query threads and memory limit, on one instance kept open (the stricter reference).
 */
import { DuckDBInstance, JsonDuckDBValueConverter, type DuckDBConnection } from '@duckdb/node-api';

export type RawJob =
  { kind: 'open'; threads: number; memoryMb: number } | { kind: 'run'; sql: string } | { kind: 'exec'; sql: string };
export type RawReply = { ok: true; ms: number; rows?: unknown[][] } | { ok: false; error: string };

let conn: DuckDBConnection | undefined;

process.on('message', (job: RawJob) => {
  void (async (): Promise<RawReply> => {
    try {
      if (job.kind === 'open') {
        const inst = await DuckDBInstance.create(':memory:', {
          threads: String(job.threads),
          memory_limit: `${job.memoryMb}MB`,
        });
        conn = await inst.connect();
        return { ok: true, ms: 0 };
      }
      const started = performance.now();
      if (job.kind === 'exec') {
        await conn!.run(job.sql);
        return { ok: true, ms: performance.now() - started };
      }
      const reader = await conn!.runAndReadAll(job.sql);
      const rows = reader.convertRows(JsonDuckDBValueConverter) as unknown[][];
      return { ok: true, ms: performance.now() - started, rows };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  })().then((r) => process.send!(r));
});
