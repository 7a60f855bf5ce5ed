/**
 * Strict PEM (RFC 7468 "strict" form) decoding of untrusted text.
 *
 * Written here rather than using @peculiar/x509's PemConverter because that one is lenient on
 * purpose: it skips any text between blocks and decodes base64 without checking it, so "garbage
 * + one valid block" or a block with stray characters would pass. A CSR endpoint should refuse
 * those with a clear message instead. Only the text framing is handled here; the DER inside is
 * always parsed by @peculiar/x509.
 */

export interface PemBlock {
  /** The label between "BEGIN " and "-----", e.g. "CERTIFICATE REQUEST". */
  readonly label: string;
  readonly der: Uint8Array;
}

export type PemDecodeResult = { ok: true; blocks: PemBlock[] } | { ok: false; message: string };

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\n([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes text made only of PEM blocks separated by whitespace. Anything else (text around the
 * blocks, headers inside them, invalid base64, mismatched BEGIN/END labels) is refused.
 */
export function decodePem(text: string): PemDecodeResult {
  const normalised = text.replace(/\r\n/g, '\n');
  const blocks: PemBlock[] = [];
  let cursor = 0;
  BLOCK.lastIndex = 0;
  for (let match = BLOCK.exec(normalised); match !== null; match = BLOCK.exec(normalised)) {
    const between = normalised.slice(cursor, match.index);
    if (between.trim() !== '') return { ok: false, message: 'there is text outside the PEM blocks; send only "-----BEGIN …-----" blocks' };
    const [, label = '', body = '', endLabel = ''] = match;
    if (label !== endLabel) return { ok: false, message: `a PEM block begins with "${label}" but ends with "${endLabel}"` };
    const base64 = body.replace(/\s+/g, '');
    if (base64 === '' || !BASE64.test(base64)) {
      return { ok: false, message: `the "${label}" PEM block does not hold valid base64 (PEM headers are not accepted either)` };
    }
    blocks.push({ label, der: new Uint8Array(Buffer.from(base64, 'base64')) });
    cursor = match.index + match[0].length;
  }
  if (normalised.slice(cursor).trim() !== '') {
    return {
      ok: false,
      message: blocks.length === 0 ? 'no PEM block found; expected "-----BEGIN …-----" … "-----END …-----"' : 'there is text after the last PEM block',
    };
  }
  if (blocks.length === 0) return { ok: false, message: 'no PEM block found; expected "-----BEGIN …-----" … "-----END …-----"' };
  return { ok: true, blocks };
}

/** PEM text for DER bytes, 64 base64 characters a line, ending in a newline. */
export function encodePem(der: ArrayBuffer | Uint8Array, label: string): string {
  const base64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
