/**
 * `strongroom decrypt --key-file K [--object-id ID] < object > plain`: decrypts one stored dataset
 * object with a key export file (`strongroom key export`), with no server, no database, no
 * configuration and no data directory — the no-lock-in exit path.
 *
 * The entry is the one named by --object-id, or the one whose key commitment matches the
 * object's header (compared in constant time; no key is tried on the data). Only authenticated
 * segments are written; the size and SHA-256 are checked at the end. A failure before the first
 * segment writes nothing; a failure after it (a damaged or truncated object) leaves the output
 * truncated to what verified, and the command exits 1 — treat the output as garbage then.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PassThrough, type Writable } from 'node:stream';
import { Sha256Check } from '../core/crypto/digest-check.ts';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import {
  createDecryptStream,
  deriveObjectKeys,
  OBJECT_HEADER_LENGTH,
  ObjectFormatError,
  parseHeader,
  type ObjectHeader,
} from '../core/crypto/object-format.ts';
import { CliExit } from './context.ts';
import { EXIT } from './exit-codes.ts';

interface Entry {
  dataset: string;
  version: number;
  objectId: string;
  objectKey: string;
  dataKey: string;
  keyTerm: number;
  size: number;
  sha256: string;
}
interface KeyFile {
  format: string;
  formatVersion: number;
  workspaceId: string;
  objects: Entry[];
}

const fail = (msg: string) => new CliExit(EXIT.FAILED, msg);

async function readKeyFile(file: string): Promise<KeyFile> {
  let k: KeyFile;
  try {
    k = JSON.parse(await readFile(file, 'utf8')) as KeyFile;
  } catch (err) {
    throw fail(`cannot read the key file ${file}: ${(err as Error).message}`);
  }
  if (
    k?.format !== 'strongroom-key-export' ||
    k.formatVersion !== 1 ||
    typeof k.workspaceId !== 'string' ||
    !Array.isArray(k.objects)
  ) {
    throw fail(`${file} is not a Strongroom key export (format strongroom-key-export, version 1)`);
  }
  return k;
}

/** The entry whose data key commits to this header (constant-time comparison). */
function matchEntry(k: KeyFile, header: ObjectHeader, objectId: string | undefined): Entry {
  const candidates = objectId ? k.objects.filter((e) => e.objectId === objectId) : k.objects;
  if (objectId && candidates.length === 0) throw fail(`the key file has no object ${objectId}`);
  for (const e of candidates) {
    const key = Buffer.from(e.dataKey, 'base64');
    if (key.length !== 32) continue;
    const { contentKey, commitment } = deriveObjectKeys(key, header.salt, {
      workspaceId: k.workspaceId,
      objectId: e.objectId,
    });
    contentKey.fill(0);
    key.fill(0);
    if (timingSafeEqual(commitment, header.commitment)) return e;
  }
  throw fail(
    objectId
      ? `the key of object ${objectId} does not match this object's header`
      : 'no key in the key file matches this object (wrong key file, or not a Strongroom object)',
  );
}

/** Reads from `source` until the header is complete; returns it and an iterator over the rest. */
async function readHead(source: AsyncIterator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  while (n < OBJECT_HEADER_LENGTH) {
    const r = await source.next();
    if (r.done) break;
    parts.push(r.value);
    n += r.value.length;
  }
  if (n < OBJECT_HEADER_LENGTH)
    throw fail(
      `the input is too short for a Strongroom object (${n} bytes; the header alone is ${OBJECT_HEADER_LENGTH})`,
    );
  return Buffer.concat(parts);
}

/** Decrypts `input` to `output` with the key file; throws CliExit on any failure. */
export async function decryptWithKeyFile(
  keyFile: string,
  objectId: string | undefined,
  input: AsyncIterable<Buffer>,
  output: Writable,
): Promise<Entry> {
  const k = await readKeyFile(keyFile);
  const it = input[Symbol.asyncIterator]();
  const head = await readHead(it);
  let header: ObjectHeader;
  try {
    header = parseHeader(head);
  } catch {
    throw fail('the input is not a Strongroom object (bad header)');
  }
  const e = matchEntry(k, header, objectId);
  const dataKey = Buffer.from(e.dataKey, 'base64');
  const dec = createDecryptStream({
    dataKey,
    workspaceId: k.workspaceId,
    objectId: e.objectId,
    expectedPlainSize: e.size,
    expectedKeyTerm: e.keyTerm,
  });
  async function* rest() {
    yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  try {
    await pipeline(
      rest(),
      dec,
      e.sha256
        ? new Sha256Check(e.sha256, () => fail('the plaintext does not match the SHA-256 in the key file'))
        : new PassThrough(),
      output,
      { end: false },
    );
  } catch (err) {
    if (err instanceof CliExit) throw err;
    if (err instanceof ObjectFormatError)
      throw fail(
        `decryption failed (${err.reason}${err.segment === undefined ? '' : ` at segment ${err.segment}`}): the object is damaged, truncated or not the one of this key; the output is incomplete`,
      );
    throw fail(`decryption failed: ${(err as Error).message}`);
  } finally {
    dataKey.fill(0);
  }
  return e;
}

export function registerDecryptCommand(program: Command): void {
  program
    .command('decrypt')
    .description(
      'Decrypt a stored dataset object (standard input) to standard output with a key export file: no server, database or configuration needed',
    )
    .requiredOption('--key-file <file>', "the file written by 'strongroom key export'")
    .option('--object-id <id>', 'the entry to use (default: the one whose key matches the object header)')
    .addHelpText(
      'after',
      '\nOnly authenticated data is written. On a failure the command exits 1; if it fails after the\nfirst segment, the output holds only the part that verified: discard it.',
    )
    .action(async (o: { keyFile: string; objectId?: string }) => {
      const e = await decryptWithKeyFile(o.keyFile, o.objectId, process.stdin as AsyncIterable<Buffer>, process.stdout);
      process.stderr.write(`decrypted ${e.dataset} version ${e.version}: ${e.size} bytes, SHA-256 verified\n`);
    });
}
