/**
 * What Cedar computes from the shipped files at every start — the schema's JSON form and the
 * verdict that the built-in policies validate against it (strict) — kept in one file of the data
 * directory, so a second start skips that WebAssembly work (~1–2 s of CPU on the 2-core machines).
 *
 * The entry is keyed by a SHA-256 of everything the answer depends on: the schema text, the
 * built-in policies exactly as they are handed to Cedar's validator (ids and JSON), the validation
 * mode, the Cedar build (the hash of its WebAssembly binary and of its JavaScript glue) and this
 * file's format. It is used only when its key equals the key computed from the current inputs and
 * its digest matches its content; anything else (no file, unreadable, malformed, another key) is
 * a miss: Cedar converts and validates as before and the file is replaced (written to a temporary
 * file, then renamed). Only a successful validation is ever written, so a built-in set that does
 * not validate is validated — and refused — at every start.
 *
 * Trust: the file lives in the data directory (0700), beside the database files, the TLS key and
 * the operator token; whoever can write there can already change every decision, so the cache
 * adds nothing to trust. Writing is best effort: a read-only data directory only costs the time.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { SchemaJson } from './cedar-schema.ts';
import type { NamedPolicies } from './policy-text.ts';

/** The cache file's name in the data directory. */
export const CEDAR_CACHE_FILE = 'cedar-cache.json';
const FORMAT = 'strongroom-cedar-cache/1';

let cedarBuild: string | undefined;
/** SHA-256 of the Cedar build this process runs (its WebAssembly binary and JavaScript glue). */
function cedarBuildHash(): string {
  if (cedarBuild === undefined) {
    const glue = createRequire(import.meta.url).resolve('@cedar-policy/cedar-wasm/nodejs');
    const h = createHash('sha256');
    for (const f of [glue, path.join(path.dirname(glue), 'cedar_wasm_bg.wasm')]) h.update(readFileSync(f));
    cedarBuild = h.digest('hex');
  }
  return cedarBuild;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The key of a schema text and the built-in set validated against it (strict mode). */
export function cedarCacheKey(schemaText: string, builtin: NamedPolicies): string {
  return sha256(JSON.stringify([FORMAT, cedarBuildHash(), 'strict', schemaText, builtin]));
}

interface Entry {
  format: string;
  key: string;
  /** SHA-256 of `key` and the schema JSON as written: a damaged file is a miss. */
  digest: string;
  /** Written only after the built-in set validated against this schema. */
  builtinValidated: true;
  schema: SchemaJson;
}

const digestOf = (key: string, schema: SchemaJson) => sha256(`${key}\n${JSON.stringify(schema)}`);

/** The schema JSON stored under `key` (whose built-in set validated), or undefined on any miss. */
export function readCachedSchema(file: string, key: string): SchemaJson | undefined {
  try {
    const e = JSON.parse(readFileSync(file, 'utf8')) as Partial<Entry>;
    if (e.format !== FORMAT || e.key !== key || e.builtinValidated !== true || !e.schema) return undefined;
    return e.digest === digestOf(key, e.schema) ? e.schema : undefined;
  } catch {
    return undefined;
  }
}

/** Record that the built-in set of `key` validated against `schema` (best effort). */
export function writeCachedSchema(file: string, key: string, schema: SchemaJson): void {
  const entry: Entry = { format: FORMAT, key, digest: digestOf(key, schema), builtinValidated: true, schema };
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(entry), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    rmSync(tmp, { force: true });
  }
}
