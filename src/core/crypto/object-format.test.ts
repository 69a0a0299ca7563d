/**
 * Known-answer vectors of the object format (object-format.vectors.json, also printed in
 * docs/format-object.md), reproduced byte for byte, and a reference decryptor written from the
 * documentation with nothing but node:crypto — proof that the page is enough to leave.
 *
 * Regenerate the vectors file (only when the format deliberately changes):
 *   STRONGROOM_WRITE_VECTORS=1 node --import tsx --test src/core/crypto/object-format.test.ts
 */
import assert from 'node:assert/strict';
import { createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { encodeAad } from './aead.ts';
import {
  DEFAULT_SEGMENT_SIZE,
  OBJECT_HEADER_LENGTH,
  ciphertextSize,
  createObjectCipher,
  decryptObject,
  deriveObjectKeys,
  encryptObject,
  openObjectCipher,
  parseHeader,
  plaintextSize,
  type NewObjectParams,
} from './object-format.ts';

const VECTORS_FILE = new URL('./object-format.vectors.json', import.meta.url);
const hex = (b: Buffer) => b.toString('hex');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const seq = (n: number, from = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) & 0xff));

/** The fixed inputs every vector shares (documented in docs/format-object.md). */
const BASE: NewObjectParams = {
  dataKey: seq(32), // 00 01 … 1f
  workspaceId: 'ws-1',
  objectId: 'obj-1',
  keyTerm: 1,
  unsafeSalt: seq(32, 0x40), // 40 41 … 5f
  unsafeNoncePrefix: Buffer.from('a0a1a2a3a4a5a6', 'hex'),
};

/** Plaintext generators named in the vectors file, so 64 KiB plaintexts need not be stored. */
const PLAINTEXTS: Record<string, () => Buffer> = {
  empty: () => Buffer.alloc(0),
  hello: () => Buffer.from('hello'),
  'one-segment': () => Buffer.from(Array.from({ length: DEFAULT_SEGMENT_SIZE }, (_, i) => i % 251)),
  'one-segment-plus-one': () => Buffer.from(Array.from({ length: DEFAULT_SEGMENT_SIZE + 1 }, (_, i) => i % 251)),
  'three-small-segments': () => Buffer.from('Strongroom segmented object format!'),
};

interface Vector {
  name: string;
  plaintext: string;
  plaintextLength: number;
  segmentSize: number;
  /** Full stored object, for objects up to 1 KiB. */
  object?: string;
  objectLength: number;
  objectSha256: string;
}

interface VectorsFile {
  inputs: {
    dataKey: string;
    workspaceId: string;
    objectId: string;
    keyTerm: number;
    salt: string;
    noncePrefix: string;
  };
  derived: { contentKeyInfo: string; commitmentInfo: string; contentKey: string; commitment: string };
  vectors: Vector[];
}

const CASES: { name: string; plaintext: string; segmentSize: number }[] = [
  { name: 'empty plaintext (one empty final segment)', plaintext: 'empty', segmentSize: DEFAULT_SEGMENT_SIZE },
  { name: '"hello"', plaintext: 'hello', segmentSize: DEFAULT_SEGMENT_SIZE },
  {
    name: 'exactly one segment (65536 bytes, byte i = i mod 251)',
    plaintext: 'one-segment',
    segmentSize: DEFAULT_SEGMENT_SIZE,
  },
  {
    name: 'one segment + 1 byte (65537 bytes, byte i = i mod 251)',
    plaintext: 'one-segment-plus-one',
    segmentSize: DEFAULT_SEGMENT_SIZE,
  },
  {
    name: 'three segments of a 16-byte segment size (16 + 16 + 3)',
    plaintext: 'three-small-segments',
    segmentSize: 16,
  },
];

function buildVectors(): VectorsFile {
  const info = (label: string) => encodeAad([label, 1, 1, BASE.workspaceId, BASE.objectId]);
  const keys = deriveObjectKeys(BASE.dataKey, BASE.unsafeSalt!, BASE);
  return {
    inputs: {
      dataKey: hex(BASE.dataKey),
      workspaceId: BASE.workspaceId,
      objectId: BASE.objectId,
      keyTerm: BASE.keyTerm,
      salt: hex(BASE.unsafeSalt!),
      noncePrefix: hex(BASE.unsafeNoncePrefix!),
    },
    derived: {
      contentKeyInfo: hex(info('strongroom/object/content-key')),
      commitmentInfo: hex(info('strongroom/object/key-commitment')),
      contentKey: hex(keys.contentKey),
      commitment: hex(keys.commitment),
    },
    vectors: CASES.map((c) => {
      const pt = PLAINTEXTS[c.plaintext]!();
      const object = encryptObject({ ...BASE, segmentSize: c.segmentSize }, pt);
      return {
        name: c.name,
        plaintext: c.plaintext,
        plaintextLength: pt.length,
        segmentSize: c.segmentSize,
        ...(object.length <= 1024 ? { object: hex(object) } : {}),
        objectLength: object.length,
        objectSha256: sha256(object),
      };
    }),
  };
}

if (process.env.STRONGROOM_WRITE_VECTORS === '1')
  writeFileSync(VECTORS_FILE, JSON.stringify(buildVectors(), null, 2) + '\n');
const FILE = JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as VectorsFile;

/**
 * A decryptor written from docs/format-object.md alone: node:crypto primitives, no Strongroom
 * code. `object` is the whole stored object; returns the plaintext or throws.
 */
function referenceDecrypt(dataKey: Buffer, workspaceId: string, objectId: string, object: Buffer): Buffer {
  const header = object.subarray(0, 85);
  if (header.subarray(0, 4).toString('latin1') !== 'SROB' || header[4] !== 1 || header[5] !== 1)
    throw new Error('not a v1 object');
  const segmentSize = header.readUInt32BE(6);
  const salt = header.subarray(10, 42);
  const prefix = header.subarray(42, 49);
  const commitment = header.subarray(53, 85);
  // info = 's' len label ‖ 'n' 8 version ‖ 'n' 8 suite ‖ 's' len workspace ‖ 's' len object
  const part = (tag: string, bytes: Buffer) => Buffer.concat([Buffer.from(tag), u32(bytes.length), bytes]);
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const u64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n));
    return b;
  };
  const info = (label: string) =>
    Buffer.concat([
      part('s', Buffer.from(label)),
      part('n', u64(1)),
      part('n', u64(1)),
      part('s', Buffer.from(workspaceId)),
      part('s', Buffer.from(objectId)),
    ]);
  const key = Buffer.from(hkdfSync('sha256', dataKey, salt, info('strongroom/object/content-key'), 32));
  const expected = Buffer.from(hkdfSync('sha256', dataKey, salt, info('strongroom/object/key-commitment'), 32));
  if (!expected.equals(commitment)) throw new Error('key commitment mismatch');
  const aad = createHash('sha256').update(header).digest();
  const body = object.subarray(85);
  const sealed = segmentSize + 16;
  const count = Math.max(1, Math.ceil(body.length / sealed));
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const seg = body.subarray(i * sealed, (i + 1) * sealed);
    if (seg.length < 16) throw new Error('truncated');
    const nonce = Buffer.concat([prefix, u32(i), Buffer.of(i === count - 1 ? 1 : 0)]);
    const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
    d.setAAD(aad);
    d.setAuthTag(seg.subarray(seg.length - 16));
    const plain = d.update(seg.subarray(0, seg.length - 16));
    d.final(); // throws unless the tag verifies
    out.push(plain);
  }
  return Buffer.concat(out);
}

test('the vectors file pins the fixed inputs and the key schedule', () => {
  assert.deepEqual(FILE.inputs, buildVectors().inputs);
  assert.deepEqual(FILE.derived, buildVectors().derived);
  assert.equal(FILE.derived.contentKeyInfo.slice(0, 10), '730000001d'); // 's', 29-byte label
});

for (const v of FILE.vectors) {
  test(`vector: ${v.name}`, () => {
    const pt = PLAINTEXTS[v.plaintext]!();
    assert.equal(pt.length, v.plaintextLength);
    const params = { ...BASE, segmentSize: v.segmentSize };
    const object = encryptObject(params, pt);
    assert.equal(object.length, v.objectLength);
    assert.equal(object.length, ciphertextSize(pt.length, v.segmentSize));
    assert.equal(plaintextSize(object.length, v.segmentSize), pt.length);
    assert.equal(sha256(object), v.objectSha256);
    if (v.object !== undefined) assert.equal(hex(object), v.object);
    assert.deepEqual(decryptObject(params, object), pt);
    assert.deepEqual(referenceDecrypt(BASE.dataKey, BASE.workspaceId, BASE.objectId, object), pt);
  });
}

test('the header of the vectors is laid out as documented', () => {
  const object = Buffer.from(FILE.vectors[1]!.object!, 'hex');
  assert.equal(
    hex(object.subarray(0, OBJECT_HEADER_LENGTH)),
    '53524f42' +
      '01' +
      '01' +
      '00010000' +
      FILE.inputs.salt +
      FILE.inputs.noncePrefix +
      '00000001' +
      FILE.derived.commitment,
  );
  const h = parseHeader(object);
  assert.equal(h.segmentSize, DEFAULT_SEGMENT_SIZE);
  assert.equal(h.keyTerm, 1);
  const cipher = openObjectCipher(BASE, object);
  assert.equal(hex(cipher.contentKey), FILE.derived.contentKey);
  assert.equal(hex(cipher.headerHash), sha256(object.subarray(0, OBJECT_HEADER_LENGTH)));
});

test('salt and nonce prefix are fresh per object, so equal inputs never give equal objects', () => {
  const { unsafeSalt: _s, unsafeNoncePrefix: _p, ...params } = BASE;
  const a = createObjectCipher(params);
  const b = createObjectCipher(params);
  assert.notDeepEqual(a.header.salt, b.header.salt);
  assert.notDeepEqual(a.header.noncePrefix, b.header.noncePrefix);
  assert.notDeepEqual(a.contentKey, b.contentKey);
  assert.notDeepEqual(encryptObject(params, Buffer.from('x')), encryptObject(params, Buffer.from('x')));
});

test('bad parameters are refused before anything is written', () => {
  assert.throws(() => createObjectCipher({ ...BASE, dataKey: Buffer.alloc(16) }), RangeError);
  assert.throws(() => createObjectCipher({ ...BASE, keyTerm: 0 }), RangeError);
  assert.throws(() => createObjectCipher({ ...BASE, segmentSize: 8 }), RangeError);
  assert.throws(() => createObjectCipher({ ...BASE, segmentSize: 32 * 1024 * 1024 }), RangeError);
  assert.throws(() => createObjectCipher({ ...BASE, workspaceId: '' }), TypeError);
  assert.throws(() => createObjectCipher({ ...BASE, objectId: 'x'.repeat(2000) }), RangeError);
  assert.throws(() => createObjectCipher({ ...BASE, unsafeSalt: Buffer.alloc(31) }), RangeError);
});

test('docs/format-object.md prints the pinned vectors', () => {
  const doc = readFileSync(new URL('../../../docs/format-object.md', import.meta.url), 'utf8').replace(/\s+/g, '');
  const expectIn = (what: string, value: string) =>
    assert.ok(doc.includes(value), `${what} (${value}) is not in docs/format-object.md`);
  for (const [k, v] of Object.entries({ ...FILE.derived, salt: FILE.inputs.salt, dataKey: FILE.inputs.dataKey }))
    expectIn(k, v);
  for (const v of FILE.vectors) {
    if (v.object === undefined) {
      expectIn(`${v.name} sha256`, v.objectSha256);
      continue;
    }
    const body = Buffer.from(v.object, 'hex').subarray(OBJECT_HEADER_LENGTH);
    const unit = v.segmentSize + 16;
    for (let off = 0; off < body.length; off += unit)
      expectIn(`${v.name} segment at ${off}`, hex(body.subarray(off, off + unit)));
  }
});
