/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven, written for the GCS peer.
 *
 * The peer computes its own checksums rather than borrowing the SDK's, so a bug in one cannot hide
 * a bug in the other. Known answer: crc32c("123456789") = 0xE3069283.
 */
const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  TABLE[n] = c >>> 0;
}

/** Continues a running CRC32C (`crc` is the value returned for the bytes before `data`). */
export function crc32cUpdate(crc: number, data: Uint8Array): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export function crc32c(data: Uint8Array): number {
  return crc32cUpdate(0, data);
}

/** The form GCS uses in `crc32c` fields and `x-goog-hash`: base64 of the big-endian 32-bit value. */
export function crc32cBase64(data: Uint8Array): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32c(data));
  return out.toString('base64');
}
