/**
 * The injectable random source of the library: every identifier or session id that
 * would otherwise call `node:crypto` directly takes a {@link RandomSource}, so tests can
 * produce fixed values. Neutral ground: the SIP layer (Call-ID, tags, branches) and the
 * SDP module (the `o=` session id) both use it, neither owns it.
 */
import { randomBytes } from 'node:crypto';

/** Returns `bytes` random bytes. The default is `crypto.randomBytes`. */
export type RandomSource = (bytes: number) => Uint8Array;

/** `crypto.randomBytes` as a {@link RandomSource}. */
export const cryptoRandom: RandomSource = (bytes) => randomBytes(bytes);
