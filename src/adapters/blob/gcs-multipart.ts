/**
 * GCS multipart: parts are temporary objects, joined by compose (≤ 32 sources per call, in
 * rounds); the last compose writes the key, so the object appears at once. Temporaries are
 * deleted on complete and on abort (abort lists the upload's directory, so parts from a crashed
 * writer go too).
 */
import type { Readable } from 'node:stream';
import type { Bucket, File } from '@google-cloud/storage';
import { BlobError, type BlobInfo, type DriverCapabilities, type MultipartUpload } from './driver.ts';

const MAX_COMPOSE = 32;
const CONCURRENCY = 4;

async function inBatches<T>(items: T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += CONCURRENCY) await Promise.all(items.slice(i, i + CONCURRENCY).map(fn));
}

export class GcsMultipart implements MultipartUpload {
  private readonly parts = new Map<number, number>();
  private done = false;

  constructor(
    private readonly bucket: Bucket,
    /** Uploads a part's temporary object (gcs-upload.ts: retried, at most one chunk held). */
    private readonly upload: (name: string, body: Readable | Buffer) => Promise<unknown>,
    private readonly target: File,
    private readonly dir: string,
    private readonly caps: DriverCapabilities,
    private readonly fail: (err: unknown, op: string) => Promise<never>,
    private readonly info: (meta: File['metadata']) => BlobInfo,
  ) {}

  private partName(n: number): string {
    return `${this.dir}part-${String(n).padStart(5, '0')}`;
  }

  async putPart(partNumber: number, body: Readable | Buffer, length: number): Promise<void> {
    if (this.done) throw new BlobError('FAILED', 'multipart upload is already completed or aborted');
    if (!Number.isSafeInteger(partNumber) || partNumber < 1 || partNumber > this.caps.maxParts) {
      throw new BlobError('FAILED', `part number must be between 1 and ${this.caps.maxParts}`);
    }
    try {
      await this.upload(this.partName(partNumber), body);
    } catch (err) {
      return this.fail(err, 'GCS putPart');
    }
    this.parts.set(partNumber, length);
  }

  async complete(): Promise<BlobInfo> {
    if (this.done) throw new BlobError('FAILED', 'multipart upload is already completed or aborted');
    const numbers = [...this.parts.keys()].sort((a, b) => a - b);
    if (numbers.length === 0) throw new BlobError('FAILED', 'multipart upload has no parts');
    numbers.forEach((n, i) => {
      if (n !== i + 1) throw new BlobError('FAILED', `multipart upload is missing part ${i + 1}`);
      if (n !== numbers.length && this.parts.get(n)! < this.caps.minPartSize)
        throw new BlobError('FAILED', `part ${n} is smaller than the minimum part size`);
    });
    const temporaries = numbers.map((n) => this.partName(n));
    try {
      let level = temporaries;
      for (let round = 1; level.length > MAX_COMPOSE; round++) {
        const groups: string[][] = [];
        for (let i = 0; i < level.length; i += MAX_COMPOSE) groups.push(level.slice(i, i + MAX_COMPOSE));
        const next = groups.map((_, i) => `${this.dir}round-${round}-${String(i).padStart(5, '0')}`);
        await inBatches(
          groups.map((g, i) => [g, next[i]!] as const),
          ([g, dest]) =>
            this.bucket.combine(
              g.map((n) => this.bucket.file(n)),
              this.bucket.file(dest),
            ),
        );
        temporaries.push(...next);
        level = next;
      }
      await this.bucket.combine(
        level.map((n) => this.bucket.file(n)),
        this.target,
      );
      const [meta] = await this.target.getMetadata();
      this.done = true;
      await this.cleanup(temporaries);
      return this.info(meta);
    } catch (err) {
      if (err instanceof BlobError) throw err;
      return this.fail(err, 'GCS complete');
    }
  }

  async abort(): Promise<void> {
    this.done = true;
    try {
      const [files] = await this.bucket.getFiles({ prefix: this.dir });
      await this.cleanup(files.map((f) => f.name));
    } catch (err) {
      return this.fail(err, 'GCS abort');
    }
  }

  private async cleanup(names: string[]): Promise<void> {
    await inBatches(names, (n) => this.bucket.file(n).delete({ ignoreNotFound: true }));
  }
}
