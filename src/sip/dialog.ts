/**
 * A SIP dialog (RFC 3261 §12) as the UAC that created it sees it: Call-ID, local and
 * remote tags, local and remote CSeq, the route set (from the 2xx's Record-Route,
 * reversed) and the remote target (from its Contact). It builds in-dialog requests
 * (ACK for the 2xx, BYE, re-INVITE answers) with the right Request-URI and Route headers
 * for loose and strict routers (§12.2.1.1), and computes where they go next (§8.1.2).
 *
 * Pure: no sockets, no timers. Via headers (with their branch) are added by the sender.
 */
import { SipParseError } from '../errors.js';
import { getCSeq, parseContact, parseAddressHeader, splitHeaderList } from './headers.js';
import { createRequest, type SipRequest, type SipResponse } from './message.js';
import { parseNameAddr, type NameAddr } from './name-addr.js';
import type { SipTransportProtocol } from './flow.js';
import { parseUri, type SipUri } from './uri.js';

/** Dialog states (RFC 3261 §12: early dialogs are not kept; a dialog starts confirmed). */
export type DialogState = 'confirmed' | 'terminated';

/** The next hop of a request: where the transport sends it. */
export interface NextHop {
  readonly protocol: SipTransportProtocol;
  readonly host: string;
  readonly port: number;
}

/** What a dialog is made of (see {@link Dialog.fromUacResponse}). */
export interface DialogInit {
  callId: string;
  localTag: string;
  remoteTag: string;
  /** Our From header value, tag included (used as From in our requests). */
  localFrom: string;
  /** The To header value of the 2xx, tag included (used as To in our requests). */
  remoteTo: string;
  localSeq: number;
  remoteTarget: string;
  /** Route set in the order our requests list them. */
  routeSet: RouteEntry[];
  /** Our Contact header value. */
  localContact: string;
}

/** An established dialog. */
export class Dialog {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly localFrom: string;
  readonly remoteTo: string;
  readonly routeSet: readonly RouteEntry[];
  readonly localContact: string;
  /** CSeq number of our last request in this dialog. */
  localSeq: number;
  /** CSeq number of the far end's last request, once it sent one. */
  remoteSeq: number | undefined;
  /** Where in-dialog requests are addressed (the far end's Contact URI). */
  remoteTarget: string;
  state: DialogState = 'confirmed';

  constructor(init: DialogInit) {
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localFrom = init.localFrom;
    this.remoteTo = init.remoteTo;
    this.localSeq = init.localSeq;
    this.remoteSeq = undefined;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.localContact = init.localContact;
  }

  /**
   * The dialog a 2xx (or a 1xx with a To tag) to our INVITE creates (RFC 3261 §12.1.2):
   * the route set is the Record-Route list in reverse order, the remote target the
   * Contact URI, the local CSeq the INVITE's.
   */
  static fromUacResponse(invite: SipRequest, response: SipResponse): Dialog {
    const callId = invite.headers.get('Call-ID');
    const from = invite.headers.get('From');
    const to = response.headers.get('To');
    const contact = invite.headers.get('Contact');
    if (callId === undefined || from === undefined || to === undefined) {
      throw new SipParseError('response cannot create a dialog: Call-ID, From or To missing');
    }
    const localTag = tagOf(from);
    const remoteTag = tagOf(to);
    if (localTag === undefined) throw new SipParseError('our From has no tag', 'From');
    if (remoteTag === undefined) throw new SipParseError('the response To has no tag', 'To');
    const remoteTarget = contactUri(response);
    const routeSet = parseRouteEntries(response.headers.getAll('Record-Route'), 'Record-Route');
    routeSet.reverse();
    const seq = getCSeq(invite).seq;
    return new Dialog({
      callId,
      localTag,
      remoteTag,
      localFrom: from,
      remoteTo: to,
      localSeq: seq,
      // No Contact in the 2xx (a broken peer): fall back to the INVITE's Request-URI.
      remoteTarget: remoteTarget ?? invite.uri,
      routeSet,
      localContact: contact ?? '',
    });
  }

  /** Whether a request from the far end belongs to this dialog (Call-ID and both tags). */
  matchesRequest(req: SipRequest): boolean {
    if (req.headers.get('Call-ID') !== this.callId) return false;
    const toTag = tagOf(req.headers.get('To') ?? '');
    const fromTag = tagOf(req.headers.get('From') ?? '');
    return toTag === this.localTag && fromTag === this.remoteTag;
  }

  /** Whether a response is to a request of this dialog with this remote tag. */
  matchesResponse(res: SipResponse): boolean {
    return (
      res.headers.get('Call-ID') === this.callId &&
      tagOf(res.headers.get('From') ?? '') === this.localTag &&
      tagOf(res.headers.get('To') ?? '') === this.remoteTag
    );
  }

  /**
   * Checks the CSeq of a request from the far end (RFC 3261 §12.2.2): lower than the last
   * one means out of order (answer 500). Records it otherwise.
   */
  acceptRemoteCSeq(req: SipRequest): boolean {
    if (req.method === 'ACK' || req.method === 'CANCEL') return true;
    let seq: number;
    try {
      seq = getCSeq(req).seq;
    } catch {
      return false; // parse fallback: an unreadable CSeq is out of order (answered 500)
    }
    if (this.remoteSeq !== undefined && seq < this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /** A target refresh (re-INVITE, UPDATE) replaces the remote target with its Contact. */
  refreshTarget(req: SipRequest): void {
    const uri = contactUri(req);
    if (uri !== undefined) this.remoteTarget = uri;
  }

  /**
   * A request within the dialog (RFC 3261 §12.2.1.1). BYE and re-INVITE take the next
   * local CSeq; the ACK of a 2xx takes the INVITE's number (`ackOf`). No Via: the sender
   * adds it with a new branch.
   */
  createRequest(
    method: string,
    opts: { ackOf?: number; body?: Uint8Array | string; contentType?: string } = {},
  ): SipRequest {
    const seq = method === 'ACK' ? (opts.ackOf ?? this.localSeq) : ++this.localSeq;
    const { requestUri, routes } = this.routing();
    const req = createRequest(method, requestUri);
    for (const r of routes) req.headers.append('Route', r);
    req.headers.append('Max-Forwards', '70');
    req.headers.append('From', this.localFrom);
    req.headers.append('To', this.remoteTo);
    req.headers.append('Call-ID', this.callId);
    req.headers.append('CSeq', `${seq} ${method}`);
    if (method === 'INVITE' && this.localContact !== '') req.headers.append('Contact', this.localContact);
    if (opts.body !== undefined && opts.body.length > 0) {
      req.headers.append('Content-Type', opts.contentType ?? 'application/sdp');
      req.body = typeof opts.body === 'string' ? new TextEncoder().encode(opts.body) : opts.body;
    }
    return req;
  }

  /**
   * Request-URI and Route headers: with an empty route set or a loose router first
   * (`;lr`), the Request-URI is the remote target and the Route headers the route set;
   * with a strict router first, the Request-URI is that router and the remote target is
   * appended as the last Route.
   */
  routing(): { requestUri: string; routes: string[] } {
    const first = this.routeSet[0];
    if (first === undefined) return { requestUri: this.remoteTarget, routes: [] };
    if (isLooseRouter(first.addr.uri)) {
      return { requestUri: this.remoteTarget, routes: this.routeSet.map((r) => r.text) };
    }
    return {
      requestUri: stripUriForRequestLine(first.addr.uriText),
      routes: [...this.routeSet.slice(1).map((r) => r.text), `<${this.remoteTarget}>`],
    };
  }

  /**
   * Where an in-dialog request goes (RFC 3261 §8.1.2 without DNS SRV): the first Route's
   * URI, or the Request-URI when there is no Route (which with a strict router first is
   * that router).
   */
  nextHop(defaultProtocol: SipTransportProtocol): NextHop {
    const first = this.routeSet[0];
    // Loose router first: it is the next hop. Strict router first: it is the
    // Request-URI, so the next hop too. No route set: the remote target.
    const uri = first !== undefined ? first.addr.uri : parseUri(this.remoteTarget, 'Contact');
    return hopOf(uri, defaultProtocol);
  }
}

/** One entry of a route set: the header value as received, and its parse. */
export interface RouteEntry {
  readonly text: string;
  readonly addr: NameAddr;
}

/** Splits Route / Record-Route values into entries, keeping each one's text. */
export function parseRouteEntries(values: readonly string[], header = 'Route'): RouteEntry[] {
  const out: RouteEntry[] = [];
  for (const line of values) {
    for (const item of splitHeaderList(line))
      out.push({ text: item.trim(), addr: parseNameAddr(item, header) });
  }
  return out;
}

/** Whether a route URI names a loose router (`;lr`, RFC 3261 §16.12.1.1). */
export function isLooseRouter(uri: SipUri): boolean {
  return uri.params.has('lr');
}

/**
 * The next hop for a URI (RFC 3263 without DNS SRV/NAPTR): the `maddr` or host, the port
 * (default 5060, 5061 for TLS), and the `transport` parameter (`sips:` means TLS;
 * otherwise `defaultProtocol`, the transport the client is configured with).
 */
export function hopOf(uri: SipUri, defaultProtocol: SipTransportProtocol): NextHop {
  const t = uri.params.get('transport')?.toLowerCase();
  const protocol: SipTransportProtocol =
    t === 'udp' || t === 'tcp' || t === 'tls' ? t : uri.scheme === 'sips' ? 'tls' : defaultProtocol;
  const port = uri.port ?? (protocol === 'tls' ? 5061 : 5060);
  const maddr = uri.params.get('maddr');
  return { protocol, host: typeof maddr === 'string' && maddr !== '' ? maddr : uri.host, port };
}

/** The `tag` parameter of a From/To value, if any (malformed values have none). */
export function tagOf(value: string): string | undefined {
  try {
    return parseAddressHeader(value, 'To').tag;
  } catch {
    // Parse fallback, as documented: a malformed value has no tag.
    return undefined;
  }
}

/** The first Contact URI of a message, as written; `undefined` when absent or malformed. */
export function contactUri(msg: SipRequest | SipResponse): string | undefined {
  const lines = msg.headers.getAll('Contact');
  if (lines.length === 0) return undefined;
  try {
    const c = parseContact(lines);
    return c.star ? undefined : c.contacts[0]?.uriText;
  } catch {
    // Parse fallback, as documented: a malformed Contact gives no URI.
    return undefined;
  }
}

/** A Request-URI may not carry URI headers (`?...`) or `method` (RFC 3261 Table 1). */
function stripUriForRequestLine(uri: string): string {
  const q = uri.indexOf('?');
  return q < 0 ? uri : uri.slice(0, q);
}
