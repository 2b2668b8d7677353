/**
 * The initial INVITE of an outbound call through Exotel's vSIP trunk, built as a pure
 * function of its options (serialize it with `serializeSipMessage`).
 *
 * Every value that reaches the message is checked first: the callee is normalized to
 * E.164, the caller id, hosts, account SID, ids and extra headers are validated, so no
 * option can add a header line or break out of a URI.
 */
import { isIP } from 'node:net';

import { ConfigError, InvalidHeaderError } from '../errors.js';
import { VERSION } from '../version.js';
import { BRANCH_MAGIC_COOKIE } from './ids.js';
import { createRequest, type SipRequest } from './message.js';
import { assertHeaderName, assertSafeHeaderValue, normalizePhoneNumber, validateCallerId } from './phone.js';

/** Signalling transport of the trunk. */
export type ExotelTransport = 'tcp' | 'udp' | 'tls';

/** The identifiers of the new call (make them with `newCallId`, `newTag` and `newBranch`). */
export interface ExotelInviteIds {
  /** The Call-ID, unique per call (see `newCallId`). */
  callId: string;
  /** Our From tag (see `newTag`). */
  fromTag: string;
  /** Via branch; must start with `z9hG4bK`. */
  branch: string;
  /** CSeq number, 1 to 2^31 − 1. */
  cseq: number;
}

/** Options of {@link buildExotelInvite}. */
export interface ExotelInviteOptions {
  /** The callee; normalized to E.164 with `normalizePhoneNumber`. */
  to: string;
  /** Country code for a national `to` (default `'91'`). */
  defaultCountryCode?: string;
  /** Exotel's signalling host, e.g. `pstn.in1.exotel.com`. */
  sipHost: string;
  /** Exotel's signalling port (5070 for TCP, 443 for TLS). */
  sipPort: number;
  /** The transport the INVITE travels on (written in the Via). */
  transport: ExotelTransport;
  /** Add `;transport=<transport>` to the Request-URI (default `false`). */
  uriTransportParam?: boolean;
  /** Our public address, advertised in Via and Contact (IPv6 is written in brackets). */
  customerIp: string;
  /** Our SIP port, advertised in Via and Contact. */
  customerSipPort: number;
  /** The Exophone used as caller id (see `validateCallerId`). */
  callerId: string;
  /** The account's SIP domain for `From`, e.g. `<account>.sip.exotel.com`. */
  fromDomain: string;
  /** Sent as `X-Exotel-AccountSid` when given. */
  accountSid?: string;
  /** Extra `X-…` headers; core headers and anything unsafe are refused. */
  extraHeaders?: Readonly<Record<string, string>>;
  /** Our SDP offer; without it the INVITE has no body (offer in the ACK). */
  sdp?: string | Uint8Array;
  /** The new call's Call-ID, From tag, Via branch and CSeq number. */
  ids: ExotelInviteIds;
  /** Default `exotel-livekit-bridge/<version>`. */
  userAgent?: string;
  /** Default 70. */
  maxForwards?: number;
}

/** The methods we accept within a call, sent in `Allow`. */
export const EXOTEL_ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, NOTIFY';
/** The extensions we announce in `Supported`. */
export const EXOTEL_SUPPORTED = 'replaces, timer';

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
// `word` of RFC 3261 §25.1, with one optional "@" for Call-ID.
const CALL_ID = /^[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+(?:@[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+)?$/;

function show(s: unknown): string {
  const text = String(s);
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/** A host as written in a URI or Via: IPv6 in brackets, names and IPv4 as they are. */
function formatHost(what: string, host: string): string {
  if (typeof host !== 'string') throw new InvalidHeaderError(`${what} must be a string`);
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const family = isIP(bare);
  if (family === 6) return `[${bare}]`;
  if (bare !== host) throw new InvalidHeaderError(`${what} ${show(host)} is not an IPv6 address`);
  if (family === 4 || HOSTNAME.test(host)) return host;
  throw new InvalidHeaderError(`${what} ${show(host)} is not a host name or IP address`);
}

function checkPort(what: string, port: number, issues: string[]): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    issues.push(`${what} must be an integer from 1 to 65535, got ${String(port)}`);
  }
}

/**
 * Builds the INVITE Exotel expects, headers in this order:
 * ```
 * INVITE sip:+919876543210@pstn.in1.exotel.com:5070 SIP/2.0
 * Via: SIP/2.0/TCP 203.0.113.10:5061;branch=z9hG4bK…;rport
 * Max-Forwards: 70
 * From: <sip:08044319240@acme.sip.exotel.com>;tag=…
 * To: <sip:+919876543210@pstn.in1.exotel.com>
 * Call-ID: …
 * CSeq: 1 INVITE
 * Contact: <sip:08044319240@203.0.113.10:5061;transport=tcp>
 * Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, NOTIFY
 * Supported: replaces, timer
 * User-Agent: exotel-livekit-bridge/0.1.0
 * X-Exotel-AccountSid: … (when accountSid is given)
 * X-…: … (extraHeaders, in insertion order)
 * Content-Type: application/sdp (when there is an SDP)
 * Content-Length: …
 * ```
 * The Via and Contact transport follow `transport` (`TCP`/`UDP`/`TLS`; the Contact stays
 * a `sip:` URI with `;transport=tls` for TLS).
 *
 * @throws InvalidPhoneNumberError for a bad `to` or `callerId`.
 * @throws InvalidHeaderError for a host, id, account SID, User-Agent or extra header that
 *   could corrupt the message, or an extra header that is not `X-…` or overrides a core one.
 * @throws ConfigError for ports, CSeq or Max-Forwards out of range, or an unknown transport.
 */
export function buildExotelInvite(opts: ExotelInviteOptions): SipRequest {
  const issues: string[] = [];
  const transport = opts.transport;
  if (transport !== 'tcp' && transport !== 'udp' && transport !== 'tls') {
    issues.push(`transport must be tcp, udp or tls, got ${show(transport)}`);
  }
  checkPort('sipPort', opts.sipPort, issues);
  checkPort('customerSipPort', opts.customerSipPort, issues);
  const { callId, fromTag, branch, cseq } = opts.ids;
  if (!Number.isInteger(cseq) || cseq < 1 || cseq > 2 ** 31 - 1) {
    issues.push(`cseq must be an integer from 1 to 2^31-1, got ${String(cseq)}`);
  }
  const maxForwards = opts.maxForwards ?? 70;
  if (!Number.isInteger(maxForwards) || maxForwards < 0 || maxForwards > 255) {
    issues.push(`maxForwards must be an integer from 0 to 255, got ${String(maxForwards)}`);
  }
  if (issues.length > 0) throw new ConfigError(issues);

  const to = normalizePhoneNumber(
    opts.to,
    opts.defaultCountryCode === undefined ? {} : { defaultCountryCode: opts.defaultCountryCode },
  );
  const callerId = validateCallerId(opts.callerId);
  const sipHost = formatHost('sipHost', opts.sipHost);
  const fromDomain = formatHost('fromDomain', opts.fromDomain);
  const customerHost = formatHost('customerIp', opts.customerIp);

  if (typeof callId !== 'string' || !CALL_ID.test(callId))
    throw new InvalidHeaderError(`invalid Call-ID ${show(callId)}`);
  if (typeof fromTag !== 'string' || !TOKEN.test(fromTag))
    throw new InvalidHeaderError(`invalid From tag ${show(fromTag)}`);
  if (typeof branch !== 'string' || !branch.startsWith(BRANCH_MAGIC_COOKIE) || !TOKEN.test(branch)) {
    throw new InvalidHeaderError(
      `invalid Via branch ${show(branch)} (a token starting with ${BRANCH_MAGIC_COOKIE})`,
    );
  }
  const userAgent = opts.userAgent ?? `exotel-livekit-bridge/${VERSION}`;
  assertSafeHeaderValue('User-Agent', userAgent);
  if (userAgent.trim().length === 0) throw new InvalidHeaderError('User-Agent must not be empty');

  const extras: [string, string][] = [];
  if (opts.accountSid !== undefined) {
    if (typeof opts.accountSid !== 'string' || !TOKEN.test(opts.accountSid)) {
      throw new InvalidHeaderError(
        `invalid account SID ${show(opts.accountSid)} (letters, digits and -._ only)`,
      );
    }
    extras.push(['X-Exotel-AccountSid', opts.accountSid]);
  }
  const seen = new Set<string>(extras.map(([n]) => n.toLowerCase()));
  for (const [name, value] of Object.entries(opts.extraHeaders ?? {})) {
    assertHeaderName(name, { requireXPrefix: true });
    assertSafeHeaderValue(name, value);
    if (seen.has(name.toLowerCase())) throw new InvalidHeaderError(`header ${show(name)} is given twice`);
    seen.add(name.toLowerCase());
    extras.push([name, value]);
  }

  const uriParam = opts.uriTransportParam === true ? `;transport=${transport}` : '';
  const requestUri = `sip:${to}@${sipHost}:${opts.sipPort}${uriParam}`;
  const customer = `${customerHost}:${opts.customerSipPort}`;
  const body =
    opts.sdp === undefined
      ? new Uint8Array(0)
      : typeof opts.sdp === 'string'
        ? new TextEncoder().encode(opts.sdp)
        : opts.sdp;

  const headers: [string, string][] = [
    ['Via', `SIP/2.0/${transport.toUpperCase()} ${customer};branch=${branch};rport`],
    ['Max-Forwards', String(maxForwards)],
    ['From', `<sip:${callerId}@${fromDomain}>;tag=${fromTag}`],
    ['To', `<sip:${to}@${sipHost}>`],
    ['Call-ID', callId],
    ['CSeq', `${cseq} INVITE`],
    ['Contact', `<sip:${callerId}@${customer};transport=${transport}>`],
    ['Allow', EXOTEL_ALLOW],
    ['Supported', EXOTEL_SUPPORTED],
    ['User-Agent', userAgent],
    ...extras,
  ];
  if (opts.sdp !== undefined) headers.push(['Content-Type', 'application/sdp']);
  headers.push(['Content-Length', String(body.length)]);
  return createRequest('INVITE', requestUri, headers, body);
}
