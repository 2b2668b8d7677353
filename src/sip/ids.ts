/**
 * Identifiers a UAC invents: Call-ID, From/To tags and Via branches (RFC 3261 §8.1.1.4,
 * §19.3, §8.1.1.7).
 *
 * Each generator draws from a random source that defaults to `node:crypto` and can be
 * replaced (`(bytes) => Uint8Array`) so that tests produce fixed values.
 */
import { InvalidHeaderError } from '../errors.js';
import { cryptoRandom, type RandomSource } from '../random.js';

// The random source lives in `src/random.ts` (the SDP module uses it too); re-exported
// here so existing imports keep working.
export { cryptoRandom, type RandomSource };

/** The magic cookie every RFC 3261 branch starts with. */
export const BRANCH_MAGIC_COOKIE = 'z9hG4bK';

const HEX = '0123456789abcdef';

function randomHex(bytes: number, random: RandomSource): string {
  const buf = random(bytes);
  if (buf.length < bytes) {
    throw new InvalidHeaderError(`random source returned ${buf.length} bytes, ${bytes} were requested`);
  }
  let out = '';
  for (let i = 0; i < bytes; i++) {
    const b = buf[i]!;
    out += HEX[b >> 4]! + HEX[b & 15]!;
  }
  return out;
}

// `word` of RFC 3261 §25.1: the characters a Call-ID may hold on each side of "@".
function isWordChar(c: number): boolean {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  return '-.!%*_+`\'~()<>:\\"/[]?{}'.includes(String.fromCharCode(c));
}

/**
 * A new Call-ID: 128 random bits as 32 hex digits, followed by `@host` when a host is
 * given (`3f2a…9c@203.0.113.10`). IPv6 hosts are written as given (brackets optional).
 *
 * @throws InvalidHeaderError when `host` holds characters a Call-ID may not contain.
 */
export function newCallId(host?: string, random: RandomSource = cryptoRandom): string {
  const id = randomHex(16, random);
  if (host === undefined || host === '') return id;
  for (let i = 0; i < host.length; i++) {
    if (!isWordChar(host.charCodeAt(i))) {
      throw new InvalidHeaderError(
        `Call-ID host ${JSON.stringify(host.slice(0, 64))} holds a forbidden character`,
      );
    }
  }
  return `${id}@${host}`;
}

/** A new From/To tag: 64 random bits as 16 hex digits. */
export function newTag(random: RandomSource = cryptoRandom): string {
  return randomHex(8, random);
}

/** A new Via branch: `z9hG4bK` followed by 96 random bits as 24 hex digits. */
export function newBranch(random: RandomSource = cryptoRandom): string {
  return BRANCH_MAGIC_COOKIE + randomHex(12, random);
}
