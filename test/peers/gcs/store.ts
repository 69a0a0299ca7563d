/**
 * In-memory buckets and objects of the GCS peer: generations, preconditions, listing, compose.
 *
 * Only the live generation of an object is kept (no versioning). Generations increase strictly
 * across the whole store, so a re-created object never gets an old generation back.
 */
import { createHash } from 'node:crypto';
import { crc32cBase64 } from './crc32c.ts';
import { badRequest, GcsHttpError, notFound, preconditionFailed } from './errors.ts';

export interface StoredObject {
  bucket: string;
  name: string;
  data: Buffer;
  generation: number;
  metageneration: number;
  contentType: string;
  metadata?: Record<string, string>;
  /** Absent on composite objects, as on GCS. */
  md5Hash?: string;
  crc32c: string;
  componentCount?: number;
  timeCreated: Date;
  updated: Date;
}

export interface Bucket {
  name: string;
  timeCreated: Date;
  objects: Map<string, StoredObject>;
}

export interface Preconditions {
  ifGenerationMatch?: number;
  ifGenerationNotMatch?: number;
  ifMetagenerationMatch?: number;
  ifMetagenerationNotMatch?: number;
}

export interface NewObject {
  data: Buffer;
  contentType?: string;
  metadata?: Record<string, string>;
  /** Client-declared hashes (base64); a mismatch is a 400. */
  md5Hash?: string;
  crc32c?: string;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
export const MAX_COMPOSE_SOURCES = 32;

/** GCS object-name rules: 1–1024 UTF-8 bytes, no CR/LF, not `.` or `..`. */
export function checkObjectName(name: string): string {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > 1024) throw badRequest('The object name must be between 1 and 1024 bytes.');
  if (/[\r\n]/.test(name) || name === '.' || name === '..') throw badRequest('The object name is invalid.');
  if (name.startsWith('.well-known/acme-challenge/')) throw badRequest('The object name is invalid.');
  return name;
}

export function checkBucketName(name: string): string {
  if (!BUCKET_NAME.test(name) || name.includes('..')) throw badRequest('Invalid bucket name: ' + JSON.stringify(name));
  return name;
}

export class GcsStore {
  readonly buckets = new Map<string, Bucket>();
  private lastGeneration = 0;

  nextGeneration(): number {
    this.lastGeneration = Math.max(this.lastGeneration + 1, Date.now() * 1000);
    return this.lastGeneration;
  }

  createBucket(name: string): Bucket {
    checkBucketName(name);
    if (this.buckets.has(name)) {
      throw new GcsHttpError(
        409,
        'conflict',
        'Your previous request to create the named bucket succeeded and you already own it.',
      );
    }
    const bucket: Bucket = { name, timeCreated: new Date(), objects: new Map() };
    this.buckets.set(name, bucket);
    return bucket;
  }

  bucket(name: string): Bucket {
    const bucket = this.buckets.get(name);
    if (!bucket) throw notFound('The specified bucket does not exist.');
    return bucket;
  }

  deleteBucket(name: string): void {
    if (this.bucket(name).objects.size > 0)
      throw new GcsHttpError(409, 'conflict', 'The bucket you tried to delete is not empty.');
    this.buckets.delete(name);
  }

  /** The live object, 404 when missing (or when `generation` names another generation). */
  object(bucketName: string, name: string, generation?: number): StoredObject {
    const obj = this.bucket(bucketName).objects.get(name);
    if (!obj || (generation !== undefined && obj.generation !== generation))
      throw notFound(`No such object: ${bucketName}/${name}`);
    return obj;
  }

  /** Applies write preconditions to what is there now (412 on failure). */
  checkWrite(existing: StoredObject | undefined, pre: Preconditions): void {
    const gen = existing?.generation ?? 0;
    if (pre.ifGenerationMatch !== undefined && pre.ifGenerationMatch !== gen) throw preconditionFailed();
    if (pre.ifGenerationNotMatch !== undefined && pre.ifGenerationNotMatch === gen) throw preconditionFailed();
    if (pre.ifMetagenerationMatch !== undefined && (!existing || existing.metageneration !== pre.ifMetagenerationMatch))
      throw preconditionFailed();
    if (
      pre.ifMetagenerationNotMatch !== undefined &&
      (!existing || existing.metageneration === pre.ifMetagenerationNotMatch)
    )
      throw preconditionFailed();
  }

  /** Read preconditions: a failed "match" is 412, a failed "not match" is 304, as on GCS. */
  checkRead(obj: StoredObject, pre: Preconditions): void {
    if (pre.ifGenerationMatch !== undefined && pre.ifGenerationMatch !== obj.generation) throw preconditionFailed();
    if (pre.ifMetagenerationMatch !== undefined && pre.ifMetagenerationMatch !== obj.metageneration)
      throw preconditionFailed();
    if (pre.ifGenerationNotMatch === obj.generation || pre.ifMetagenerationNotMatch === obj.metageneration) {
      throw new GcsHttpError(304, 'notModified', 'Not Modified');
    }
  }

  /** Creates or replaces an object atomically after checking hashes and preconditions. */
  insert(
    bucketName: string,
    name: string,
    input: NewObject,
    pre: Preconditions,
    component?: { count: number },
  ): StoredObject {
    const bucket = this.bucket(bucketName);
    checkObjectName(name);
    const md5Hash = createHash('md5').update(input.data).digest('base64');
    const crc = crc32cBase64(input.data);
    if (input.md5Hash !== undefined && input.md5Hash !== md5Hash) {
      throw badRequest(`Provided MD5 hash "${input.md5Hash}" doesn't match calculated MD5 hash "${md5Hash}".`);
    }
    if (input.crc32c !== undefined && input.crc32c !== crc) {
      throw badRequest(`Provided CRC32C "${input.crc32c}" doesn't match calculated CRC32C "${crc}".`);
    }
    const existing = bucket.objects.get(name);
    this.checkWrite(existing, pre);
    const now = new Date();
    const obj: StoredObject = {
      bucket: bucketName,
      name,
      data: input.data,
      generation: this.nextGeneration(),
      metageneration: 1,
      contentType: input.contentType ?? 'application/octet-stream',
      crc32c: crc,
      timeCreated: now,
      updated: now,
    };
    if (input.metadata) obj.metadata = input.metadata;
    if (component) obj.componentCount = component.count;
    else obj.md5Hash = md5Hash;
    bucket.objects.set(name, obj);
    return obj;
  }

  delete(bucketName: string, name: string, pre: Preconditions, generation?: number): void {
    const obj = this.object(bucketName, name, generation);
    this.checkWrite(obj, pre);
    this.bucket(bucketName).objects.delete(name);
  }

  compose(
    bucketName: string,
    name: string,
    sources: { name: string; generation?: number; ifGenerationMatch?: number }[],
    dest: { contentType?: string; metadata?: Record<string, string> },
    pre: Preconditions,
  ): StoredObject {
    if (sources.length === 0) throw badRequest('You must provide at least one source component.', 'required');
    if (sources.length > MAX_COMPOSE_SOURCES)
      throw badRequest(
        `The number of source components provided (${sources.length}) exceeds the maximum (${MAX_COMPOSE_SOURCES}).`,
      );
    const parts = sources.map((s) => {
      const obj = this.object(bucketName, checkObjectName(s.name), s.generation);
      if (s.ifGenerationMatch !== undefined && s.ifGenerationMatch !== obj.generation) throw preconditionFailed();
      return obj;
    });
    const count = parts.reduce((n, p) => n + (p.componentCount ?? 1), 0);
    if (count > 1024) throw badRequest('The composite object would exceed the component count limit of 1024.');
    const data = Buffer.concat(parts.map((p) => p.data));
    const input: NewObject = { data, contentType: dest.contentType ?? parts[0]!.contentType };
    if (dest.metadata) input.metadata = dest.metadata;
    return this.insert(bucketName, name, input, pre, { count });
  }

  /** Updates content type / custom metadata; bumps metageneration. */
  patch(
    bucketName: string,
    name: string,
    patch: { contentType?: string; metadata?: Record<string, string | null> },
    pre: Preconditions,
  ): StoredObject {
    const obj = this.object(bucketName, name);
    this.checkWrite(obj, pre);
    if (patch.contentType !== undefined) obj.contentType = patch.contentType;
    if (patch.metadata !== undefined) {
      const merged: Record<string, string> = { ...obj.metadata };
      for (const [k, v] of Object.entries(patch.metadata)) {
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
      obj.metadata = merged;
    }
    obj.metageneration += 1;
    obj.updated = new Date();
    return obj;
  }
}

/** Bytes-wise (UTF-8) order, as GCS lists: not JavaScript's UTF-16 order. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export interface ListQuery {
  prefix: string;
  delimiter?: string;
  maxResults: number;
  /** Exclusive: resume after this entry (an object name or a prefix). */
  after?: string;
  startOffset?: string;
  endOffset?: string;
  includeTrailingDelimiter: boolean;
}

/** One page of a listing; `maxResults` counts objects and prefixes together, as GCS does. */
export function listObjects(
  bucket: Bucket,
  q: ListQuery,
): { items: StoredObject[]; prefixes: string[]; last?: string } {
  const names = [...bucket.objects.keys()].filter((n) => n.startsWith(q.prefix)).sort(compareNames);
  const items: StoredObject[] = [];
  const prefixes: string[] = [];
  let lastEntry: string | undefined;
  for (const name of names) {
    if (q.startOffset !== undefined && compareNames(name, q.startOffset) < 0) continue;
    if (q.endOffset !== undefined && compareNames(name, q.endOffset) >= 0) continue;
    let entry = name;
    let isPrefix = false;
    if (q.delimiter) {
      const at = name.indexOf(q.delimiter, q.prefix.length);
      if (at >= 0) {
        entry = name.slice(0, at + q.delimiter.length);
        isPrefix = true;
      }
    }
    if (q.after !== undefined && compareNames(entry, q.after) <= 0) continue;
    if (isPrefix && entry === lastEntry) continue;
    if (items.length + prefixes.length >= q.maxResults) return { items, prefixes, last: lastEntry! };
    lastEntry = entry;
    if (isPrefix) {
      prefixes.push(entry);
      if (q.includeTrailingDelimiter && name === entry) items.push(bucket.objects.get(name)!);
    } else items.push(bucket.objects.get(name)!);
  }
  return { items, prefixes };
}
