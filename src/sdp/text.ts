/**
 * Two small operations on SDP text that the SIP layer needs, done through the parser
 * and serializer so that nobody edits SDP by regex.
 */
import { ConfigError, SipParseError } from '../errors.js';
import { firstAudio } from './negotiate.js';
import { parseSdp } from './parse.js';
import { serializeSdp } from './serialize.js';

/**
 * Returns `sdp` with `bump` added to the `o=` session version (RFC 3264 §8: each new
 * offer or answer in a session increments it). The version is handled as a BigInt, so
 * 64-bit values do not lose precision. The result is re-serialized: CRLF line ends, RFC
 * order (an SDP we built ourselves comes back byte for byte apart from the version).
 *
 * @throws SipParseError (header `SDP`) when `sdp` is malformed or its session version is
 *   not decimal digits.
 * @throws ConfigError when `bump` is not a safe integer or would make the version negative.
 */
export function withSessionVersion(sdp: string, bump: number): string {
  if (!Number.isSafeInteger(bump)) throw new ConfigError([`bump must be an integer, got ${String(bump)}`]);
  const desc = parseSdp(sdp);
  const current = desc.origin.sessionVersion;
  if (!/^[0-9]{1,20}$/.test(current)) {
    throw new SipParseError(`o= session version ${JSON.stringify(current)} is not decimal digits`, 'SDP');
  }
  const next = BigInt(current) + BigInt(bump);
  if (next < 0n) throw new ConfigError([`bump ${bump} would make the session version ${current} negative`]);
  desc.origin.sessionVersion = next.toString();
  return serializeSdp(desc);
}

/**
 * `"<address>:<port>"` of the first audio stream: its `c=` address (media level, else
 * session level) and its `m=audio` port, for log lines. `undefined` when the SDP does not
 * parse or has no audio stream with an address. IPv6 addresses are written unbracketed.
 */
export function sdpMediaEndpoint(sdp: string): string | undefined {
  let desc: ReturnType<typeof parseSdp>;
  try {
    desc = parseSdp(sdp);
  } catch (err) {
    // A log helper: an unparsable SDP has no endpoint to show, which `undefined` says.
    if (err instanceof SipParseError) return undefined;
    throw err;
  }
  const audio = firstAudio(desc);
  if (audio === undefined) return undefined;
  const conn = audio.connection ?? desc.connection;
  return conn === undefined ? undefined : `${conn.address}:${audio.port}`;
}
