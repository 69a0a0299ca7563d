/** JSON resources as the GCS JSON API writes them (numbers as strings, RFC 3339 times). */
import type { Bucket, StoredObject } from './store.ts';

/** Opaque etag derived from generation and metageneration (GCS's is also opaque base64). */
function etagOf(obj: StoredObject): string {
  return Buffer.from(`${obj.generation}/${obj.metageneration}`).toString('base64');
}

export function objectResource(base: string, obj: StoredObject): Record<string, unknown> {
  const path = `b/${encodeURIComponent(obj.bucket)}/o/${encodeURIComponent(obj.name)}`;
  const res: Record<string, unknown> = {
    kind: 'storage#object',
    id: `${obj.bucket}/${obj.name}/${obj.generation}`,
    selfLink: `${base}/storage/v1/${path}`,
    mediaLink: `${base}/download/storage/v1/${path}?generation=${obj.generation}&alt=media`,
    name: obj.name,
    bucket: obj.bucket,
    generation: String(obj.generation),
    metageneration: String(obj.metageneration),
    contentType: obj.contentType,
    storageClass: 'STANDARD',
    size: String(obj.data.length),
    crc32c: obj.crc32c,
    etag: etagOf(obj),
    timeCreated: obj.timeCreated.toISOString(),
    updated: obj.updated.toISOString(),
    timeStorageClassUpdated: obj.timeCreated.toISOString(),
  };
  if (obj.md5Hash !== undefined) res['md5Hash'] = obj.md5Hash;
  if (obj.componentCount !== undefined) res['componentCount'] = obj.componentCount;
  if (obj.metadata && Object.keys(obj.metadata).length > 0) res['metadata'] = obj.metadata;
  return res;
}

export function bucketResource(base: string, bucket: Bucket, projectNumber: string): Record<string, unknown> {
  return {
    kind: 'storage#bucket',
    id: bucket.name,
    selfLink: `${base}/storage/v1/b/${encodeURIComponent(bucket.name)}`,
    projectNumber,
    name: bucket.name,
    timeCreated: bucket.timeCreated.toISOString(),
    updated: bucket.timeCreated.toISOString(),
    metageneration: '1',
    iamConfiguration: { uniformBucketLevelAccess: { enabled: true }, publicAccessPrevention: 'enforced' },
    location: 'US',
    locationType: 'multi-region',
    storageClass: 'STANDARD',
    etag: 'CAE=',
  };
}
