/**
 * Private files for key material and provider state.
 *
 * Writing: the parent directory is created 0700 if absent; the file is created with O_CREAT|O_EXCL
 * (never overwriting, never following a planted file), mode 0600, written, fsynced, and the
 * directory is fsynced so the new name survives a crash. A failed write removes the partial file.
 *
 * Reading: the opened descriptor is checked (no race between check and read): it must be a regular
 * file with no group/other permission bits, owned by this process's user or root, and no larger
 * than the caller's limit. Anything else is refused with the file's name and the fix.
 */
import { constants } from 'node:fs';
import { mkdir, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { keyError } from './key-errors.ts';

/** Create `file` exclusively with mode 0600 and durable contents. Refuses if it exists. */
export async function writePrivateFileExclusive(file: string, data: Buffer | string): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const flags = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY;
  let handle;
  try {
    handle = await open(file, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw keyError(
        'CONFLICT',
        'ROOT_KEY_EXISTS',
        `${file} already exists: the root key is already initialized; refusing to overwrite it`,
      );
    }
    throw err;
  }
  try {
    await handle.chmod(0o600);
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(file).catch(() => undefined);
    throw err;
  }
  await handle.close();
  await syncDirectory(dir);
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the file itself is already durable.
  } finally {
    await handle.close();
  }
}

/** How to name and bound a private file being read. */
export interface ReadPrivateOptions {
  /** Human name of the file for messages, e.g. "root key file". */
  what: string;
  /** Largest acceptable size in bytes. */
  maxBytes: number;
}

/** True when `file` exists (any type). */
export async function fileExists(file: string): Promise<boolean> {
  try {
    const handle = await open(file, constants.O_RDONLY);
    await handle.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    return true;
  }
}

/**
 * Read a private file after checking the opened descriptor. Throws SEALED with reason
 * `ROOT_KEY_MISSING` when absent and `ROOT_KEY_FILE_UNSAFE` when permissions, owner, type or size
 * are wrong.
 */
export async function readPrivateFile(file: string, opts: ReadPrivateOptions): Promise<Buffer> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw keyError(
        'SEALED',
        'ROOT_KEY_MISSING',
        `${opts.what} ${file} does not exist; run \`strongroom init\` first`,
      );
    }
    throw keyError('SEALED', 'ROOT_KEY_FILE_UNSAFE', `cannot open ${opts.what} ${file} (${code ?? 'error'})`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      throw keyError('SEALED', 'ROOT_KEY_FILE_UNSAFE', `${opts.what} ${file} is not a regular file`);
    }
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw keyError(
        'SEALED',
        'ROOT_KEY_FILE_UNSAFE',
        `${opts.what} ${file} has mode ${mode}: it must not be readable or writable by group or others; fix with \`chmod 600 ${file}\``,
      );
    }
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
      throw keyError(
        'SEALED',
        'ROOT_KEY_FILE_UNSAFE',
        `${opts.what} ${file} is owned by uid ${st.uid}, not by this process's user (uid ${uid}) or root; fix with \`chown\``,
      );
    }
    if (st.size > opts.maxBytes) {
      throw keyError(
        'SEALED',
        'ROOT_KEY_FILE_INVALID',
        `${opts.what} ${file} is ${st.size} bytes, larger than expected`,
      );
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Parse a private JSON state file; a parse failure is `STATE_FILE_INVALID`. */
export async function readPrivateJson(file: string, opts: ReadPrivateOptions): Promise<unknown> {
  const raw = await readPrivateFile(file, opts);
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw keyError('SEALED', 'STATE_FILE_INVALID', `${opts.what} ${file} is not valid JSON`);
  }
}
