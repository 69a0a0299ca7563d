import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../errors.ts';
import { DecryptionError, encodeAad, openAead, sealAead } from './aead.ts';

const hex = (s: string) => Buffer.from(s, 'hex');

// NIST GCM specification (McGrew & Viega), test case 16: AES-256, 96-bit IV, with AAD.
const NIST = {
  key: hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'),
  iv: hex('cafebabefacedbaddecaf888'),
  pt: hex(
    'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
  ),
  aad: hex('feedfacedeadbeeffeedfacedeadbeefabaddad2'),
  ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
  tag: '76fc6ece0f4e1768cddf8853bb2d551b',
};

test('sealAead matches the NIST GCM known-answer vector and lays out nonce ‖ ct ‖ tag', () => {
  const out = sealAead(NIST.key, NIST.pt, NIST.aad, { unsafeNonce: NIST.iv });
  assert.equal(out.toString('hex'), 'cafebabefacedbaddecaf888' + NIST.ct + NIST.tag);
  assert.deepEqual(openAead(NIST.key, out, NIST.aad), NIST.pt);
});

test('every seal draws a fresh nonce', () => {
  const key = Buffer.alloc(32, 1);
  const aad = encodeAad(['t']);
  const a = sealAead(key, Buffer.from('x'), aad);
  const b = sealAead(key, Buffer.from('x'), aad);
  assert.notDeepEqual(a.subarray(0, 12), b.subarray(0, 12));
});

test('encodeAad known answer: tag, uint32 BE length, bytes for every part', () => {
  const aad = encodeAad(['ab', Buffer.of(0xff), 1]);
  assert.equal(
    aad.toString('hex'),
    '73' + '00000002' + '6162' + '62' + '00000001' + 'ff' + '6e' + '00000008' + '0000000000000001',
  );
});

test('encodeAad is unambiguous', () => {
  assert.notDeepEqual(encodeAad(['ab', 'c']), encodeAad(['a', 'bc']));
  assert.notDeepEqual(encodeAad(['abc']), encodeAad(['ab', 'c']));
  assert.notDeepEqual(encodeAad(['1']), encodeAad([1]));
  assert.notDeepEqual(encodeAad(['a']), encodeAad([Buffer.from('a')]));
  assert.notDeepEqual(encodeAad(['', 'a']), encodeAad(['a', '']));
});

test('encodeAad refuses ill-formed strings and non-integer numbers', () => {
  assert.throws(() => encodeAad(['\ud800']), TypeError);
  assert.throws(() => encodeAad([1.5]), RangeError);
  assert.throws(() => encodeAad([-1]), RangeError);
});

test('associated data is required', () => {
  const key = Buffer.alloc(32, 1);
  assert.throws(() => sealAead(key, Buffer.from('x'), Buffer.alloc(0)), TypeError);
  const sealed = sealAead(key, Buffer.from('x'), encodeAad(['t']));
  assert.throws(() => openAead(key, sealed, Buffer.alloc(0)), TypeError);
});

test('keys must be 32 bytes and test nonces 12 bytes', () => {
  assert.throws(() => sealAead(Buffer.alloc(16), Buffer.from('x'), encodeAad(['t'])), RangeError);
  assert.throws(
    () => sealAead(Buffer.alloc(32), Buffer.from('x'), encodeAad(['t']), { unsafeNonce: Buffer.alloc(8) }),
    RangeError,
  );
});

test('wrong key, wrong AAD and short input all throw the same detail-free DecryptionError', () => {
  const key = Buffer.alloc(32, 1);
  const aad = encodeAad(['t']);
  const sealed = sealAead(key, Buffer.from('secret'), aad);
  const failures = [
    () => openAead(Buffer.alloc(32, 2), sealed, aad),
    () => openAead(key, sealed, encodeAad(['u'])),
    () => openAead(key, sealed.subarray(0, 27), aad),
    () => openAead(key, Buffer.alloc(0), aad),
  ];
  for (const fail of failures) {
    assert.throws(fail, (err: unknown) => {
      assert.ok(err instanceof DecryptionError && err instanceof AppError);
      assert.equal(err.code, 'DECRYPTION_FAILED');
      assert.equal(err.detail, undefined);
      assert.equal(err.cause, undefined);
      return true;
    });
  }
});
