/**
 * The few DER encoders needed for CertificatePolicies with CPS qualifiers.
 * Hand-written because @peculiar/x509's CertificatePolicyExtension only takes policy OIDs (no
 * qualifiers), and the ASN.1 schema package behind it is not a direct dependency of this project.
 */
const encodeLength = (length: number): Uint8Array => {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
};

const tlv = (tag: number, content: Uint8Array): Uint8Array => Buffer.concat([Uint8Array.of(tag), encodeLength(content.length), content]);

export const derSequence = (...items: Uint8Array[]): Uint8Array => tlv(0x30, Buffer.concat(items));

export const derIa5String = (text: string): Uint8Array => tlv(0x16, Buffer.from(text, 'latin1'));

/** OBJECT IDENTIFIER: first two arcs folded into one, every arc base-128 with continuation bits. */
export function derOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map((arc) => BigInt(arc));
  const [first = 0n, second = 0n, ...rest] = arcs;
  const bytes: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let n = arc >> 7n; n > 0n; n >>= 7n) chunk.unshift(Number(n & 0x7fn) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(bytes));
}
