/**
 * `serializeSdp`: the model back to SDP text, in RFC 8866 order with CRLF line ends.
 */
import type { SdpAttribute, SdpConnection, SdpLine, SessionDescription } from './model.js';
import { fail, show } from './parse.js';

// RFC 8866 §5 order: v o s i u e p c b t r z k a, then per media m i c b k a.
const SESSION_BEFORE_C = 'iuep';
const SESSION_AFTER_C = 'b';
const MEDIA_BEFORE_C = 'i';

function lineOut(out: string[], l: SdpLine): void {
  out.push(`${l.type}=${l.value}`);
}

function attrOut(out: string[], a: SdpAttribute): void {
  out.push(a.value === undefined ? `a=${a.name}` : `a=${a.name}:${a.value}`);
}

function connOut(c: SdpConnection): string {
  return `c=${c.netType} ${c.addrType} ${c.address}`;
}

/**
 * Writes a session description with CRLF line ends (a CRLF after the last line too), in
 * RFC 8866 order: `v o s i u e p c b t r z k a`, then each media section `m i c b k a`.
 * Attributes are written from `attributes`, in order.
 *
 * @throws SipParseError (header `SDP`) when a field holds CR or LF.
 */
export function serializeSdp(desc: SessionDescription): string {
  const out: string[] = [];
  const o = desc.origin;
  out.push(`v=${desc.version}`);
  out.push(`o=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`);
  if (desc.sessionName !== undefined) out.push(`s=${desc.sessionName}`);
  for (const l of desc.lines) if (SESSION_BEFORE_C.includes(l.type)) lineOut(out, l);
  if (desc.connection !== undefined) out.push(connOut(desc.connection));
  for (const l of desc.lines) if (SESSION_AFTER_C.includes(l.type)) lineOut(out, l);
  for (const t of desc.timing) {
    out.push(`t=${t.start} ${t.stop}`);
    for (const r of t.repeats) out.push(`r=${r}`);
  }
  for (const l of desc.lines)
    if (!SESSION_BEFORE_C.includes(l.type) && !SESSION_AFTER_C.includes(l.type)) lineOut(out, l);
  for (const a of desc.attributes) attrOut(out, a);
  for (const m of desc.media) {
    const port = m.portCount === undefined ? `${m.port}` : `${m.port}/${m.portCount}`;
    out.push(`m=${[m.type, port, m.protocol, ...m.formats].join(' ')}`);
    for (const l of m.lines) if (MEDIA_BEFORE_C.includes(l.type)) lineOut(out, l);
    if (m.connection !== undefined) out.push(connOut(m.connection));
    for (const l of m.lines) if (!MEDIA_BEFORE_C.includes(l.type)) lineOut(out, l);
    for (const a of m.attributes) attrOut(out, a);
  }
  for (const line of out) {
    if (line.includes('\r') || line.includes('\n')) fail(`line ${show(line)} contains CR or LF`);
  }
  return `${out.join('\r\n')}\r\n`;
}
