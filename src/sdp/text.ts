/**
 * Small operations on SDP text that the SIP layer needs, done through the parser
 * and serializer so that nobody edits SDP by regex.
 */
import { ConfigError, SipParseError } from '../errors.js';
import { SDP_DIRECTIONS, type SdpDirection } from './model.js';
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

/** The `o=` session version of `sdp` (RFC 3264 §8). @throws SipParseError when malformed or not decimal digits. */
export function sessionVersionOf(sdp: string): bigint {
  const current = parseSdp(sdp).origin.sessionVersion;
  if (!/^[0-9]{1,20}$/.test(current)) {
    throw new SipParseError(`o= session version ${JSON.stringify(current)} is not decimal digits`, 'SDP');
  }
  return BigInt(current);
}

/** What {@link reviseSdp} changes. */
export interface SdpRevision {
  /**
   * The direction of every accepted media section (port not 0), written as a
   * media-level attribute in place of any direction attribute there; a session-level
   * direction attribute is removed (RFC 3264 §8.4: hold is `sendonly`, resume `sendrecv`).
   */
  direction?: SdpDirection;
  /** The new `o=` session version (decimal, not negative). */
  sessionVersion?: bigint;
}

/**
 * `sdp` with its direction and/or session version changed, through the parser and the
 * serializer (CRLF line ends, RFC order; everything else as it was).
 *
 * @throws SipParseError (header `SDP`) when `sdp` is malformed.
 * @throws ConfigError when the direction is unknown or the version negative.
 */
export function reviseSdp(sdp: string, revision: SdpRevision): string {
  const desc = parseSdp(sdp);
  const { direction, sessionVersion } = revision;
  if (sessionVersion !== undefined) {
    if (sessionVersion < 0n) throw new ConfigError([`session version ${sessionVersion} is negative`]);
    desc.origin.sessionVersion = sessionVersion.toString();
  }
  if (direction !== undefined) {
    if (!SDP_DIRECTIONS.has(direction))
      throw new ConfigError([`unknown direction ${JSON.stringify(direction)}`]);
    desc.attributes = desc.attributes.filter((a) => !SDP_DIRECTIONS.has(a.name));
    delete desc.direction;
    for (const m of desc.media) {
      if (m.port === 0) continue;
      const at = m.attributes.findIndex((a) => SDP_DIRECTIONS.has(a.name));
      const rest = m.attributes.filter((a) => !SDP_DIRECTIONS.has(a.name));
      // Keep the attribute where it was (our own SDP ends with it); append when there was none.
      rest.splice(at < 0 ? rest.length : at, 0, { name: direction });
      m.attributes = rest;
      m.direction = direction;
    }
  }
  return serializeSdp(desc);
}
