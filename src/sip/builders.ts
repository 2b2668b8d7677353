/**
 * The one place that builds the messages RFC 3261 derives from another one: responses
 * (§8.2.6), the ACK of a non-2xx final response (§17.1.1.3) and CANCEL (§9.1). The user
 * agent, the INVITE client and server, the transaction layer and the simulator all use
 * these, so a rule of the RFC is written once.
 */
import { getCSeq, getVias, formatVia } from './headers.js';
import { newTag } from './ids.js';
import {
  REASON_PHRASES,
  createRequest,
  createResponse,
  type SipRequest,
  type SipResponse,
} from './message.js';

/** Whether a From/To value carries a `tag` parameter (outside the URI's angle brackets). */
export function hasTag(value: string): boolean {
  return tagParam(value) !== undefined;
}

/** The `tag` parameter of a From/To value, if any (parameters inside `<…>` belong to the URI). */
export function tagParam(value: string): string | undefined {
  const close = value.lastIndexOf('>');
  const params = close >= 0 ? value.slice(close + 1) : value.slice(Math.max(0, value.indexOf(';')));
  const m = /;\s*tag\s*=\s*([^;\s,]+)/i.exec(params);
  return m?.[1];
}

/** Options of {@link buildResponse}. */
export interface ResponseOptions {
  /** Reason phrase; default the standard one for `status`. */
  reason?: string;
  /** Our To tag, added when the request's To has none (status > 100). Default: a new random tag. */
  toTag?: string;
  /** Value of the `Server` header; none when left out. */
  server?: string;
  /**
   * Where the request really came from (UDP, RFC 3581): sets `received` and, when the top
   * Via asked for it, `rport` on the top Via.
   */
  source?: { address: string; port: number };
  /** More headers, appended in order. */
  headers?: Iterable<readonly [string, string]>;
  /** An SDP body (sets Content-Type: application/sdp). */
  sdp?: string;
}

/**
 * A response to `req` (RFC 3261 §8.2.6): every Via in order, From, To (with our tag on
 * anything but 100), Call-ID and CSeq copied.
 */
export function buildResponse(req: SipRequest, status: number, options: ResponseOptions = {}): SipResponse {
  const res = createResponse(status, options.reason ?? REASON_PHRASES[status] ?? 'Unknown');
  const vias = req.headers.getAll('Via');
  const source = options.source;
  if (source !== undefined && vias.length > 0) {
    let first = true;
    for (const v of safeVias(req)) {
      if (first) {
        const top = { ...v, params: new Map(v.params), received: source.address };
        if (v.rport !== undefined) top.rport = source.port;
        res.headers.append('Via', formatVia(top));
        first = false;
      } else res.headers.append('Via', formatVia(v));
    }
  } else {
    for (const v of vias) res.headers.append('Via', v);
  }
  const from = req.headers.get('From');
  if (from !== undefined) res.headers.append('From', from);
  const to = req.headers.get('To');
  if (to !== undefined) {
    res.headers.append('To', status > 100 && !hasTag(to) ? `${to};tag=${options.toTag ?? newTag()}` : to);
  }
  const callId = req.headers.get('Call-ID');
  if (callId !== undefined) res.headers.append('Call-ID', callId);
  const cseq = req.headers.get('CSeq');
  if (cseq !== undefined) res.headers.append('CSeq', cseq);
  if (options.server !== undefined) res.headers.append('Server', options.server);
  for (const [name, value] of options.headers ?? []) res.headers.append(name, value);
  if (options.sdp !== undefined) {
    res.headers.append('Content-Type', 'application/sdp');
    res.body = new TextEncoder().encode(options.sdp);
  }
  return res;
}

function safeVias(req: SipRequest): ReturnType<typeof getVias> {
  try {
    return getVias(req);
  } catch {
    // An unparsable Via cannot carry received/rport: the caller's Via values are kept as they are.
    return [];
  }
}

/**
 * The ACK of a non-2xx final response (RFC 3261 §17.1.1.3): the INVITE's Request-URI,
 * Call-ID, From, CSeq number, top Via (same branch) and Route headers, the response's To.
 */
export function buildNon2xxAck(invite: SipRequest, response: SipResponse): SipRequest {
  const ack = createRequest('ACK', invite.uri);
  const via = invite.headers.get('Via');
  if (via !== undefined) ack.headers.append('Via', via);
  for (const r of invite.headers.getAll('Route')) ack.headers.append('Route', r);
  ack.headers.append('Max-Forwards', '70');
  const from = invite.headers.get('From');
  if (from !== undefined) ack.headers.append('From', from);
  const to = response.headers.get('To') ?? invite.headers.get('To');
  if (to !== undefined) ack.headers.append('To', to);
  const callId = invite.headers.get('Call-ID');
  if (callId !== undefined) ack.headers.append('Call-ID', callId);
  ack.headers.append('CSeq', `${cseqNumber(invite)} ACK`);
  ack.headers.append('Content-Length', '0');
  return ack;
}

/**
 * A CANCEL of `invite` (RFC 3261 §9.1): the INVITE's Request-URI, top Via, Route headers,
 * From, To, Call-ID and CSeq number.
 */
export function buildCancel(invite: SipRequest, userAgent?: string): SipRequest {
  const cancel = createRequest('CANCEL', invite.uri);
  const via = invite.headers.get('Via');
  if (via !== undefined) cancel.headers.append('Via', via);
  for (const r of invite.headers.getAll('Route')) cancel.headers.append('Route', r);
  cancel.headers.append('Max-Forwards', '70');
  for (const h of ['From', 'To', 'Call-ID']) {
    const v = invite.headers.get(h);
    if (v !== undefined) cancel.headers.append(h, v);
  }
  cancel.headers.append('CSeq', `${cseqNumber(invite)} CANCEL`);
  if (userAgent !== undefined) cancel.headers.append('User-Agent', userAgent);
  return cancel;
}

function cseqNumber(req: SipRequest): number {
  try {
    return getCSeq(req).seq;
  } catch {
    return 1; // a request we built ourselves always has one; keep the builder total
  }
}

/**
 * A message's headers as two maps (first value of each name): every header, and the
 * `X-` ones alone (what the bridge passes to the room).
 */
export function headerMaps(msg: { headers: Iterable<{ name: string; value: string }> }): {
  all: Record<string, string>;
  x: Record<string, string>;
} {
  const all: Record<string, string> = {};
  const x: Record<string, string> = {};
  for (const h of msg.headers) {
    if (all[h.name] !== undefined) continue;
    all[h.name] = h.value;
    if (/^x-/i.test(h.name)) x[h.name] = h.value;
  }
  return { all, x };
}
