/**
 * Fuzz targets for the SIP header values with a formatter (URI, name-addr, Via), RTCP
 * reports and the AgentStream messages. Each one is strict like test/fuzz/targets.ts:
 * a parser may refuse with a typed error; what it accepts must format, re-parse without
 * any error and come back equal.
 */
import { parseVia, formatVia } from '../../src/sip/headers.js';
import { formatNameAddr, parseNameAddr, type NameAddr } from '../../src/sip/name-addr.js';
import { formatUri, parseUri } from '../../src/sip/uri.js';
import { parseRtcpReport, type RtcpReport } from '../../src/rtp/packet.js';
import {
  NTP_UNIX_OFFSET_S,
  readRtcpCompound,
  createRtcpFeedback,
  writeRtcpReport,
} from '../../src/rtp/rtcp.js';
import {
  clearMessage,
  markMessage,
  mediaMessage,
  parseBotEvent,
  parseExotelEvent,
  type BotStreamEvent,
} from '../../src/agentstream/protocol.js';
import { dec, enc } from './mutator.js';
import type { FuzzTarget } from './runner.js';
import { FuzzFailure, parseOrRefuse, roundTrip } from './strict.js';

const URIS = [
  'sip:+919876543210@pstn.in1.exotel.com:5070;transport=tcp;lr',
  'sips:alice:pw@[2001:db8::1]:5061;maddr=10.0.0.1?subject=hi&priority=urgent',
  'tel:+91-98765-43210;phone-context=+91',
  'sip:%61lice@example.com;user=phone',
];

const sipUri: FuzzTarget = {
  name: 'sip-uri',
  seeds: URIS.map(enc),
  run(input) {
    const uri = parseOrRefuse(() => parseUri(dec(input)));
    if (uri !== undefined) roundTrip(uri, { format: 'URI', serialize: formatUri, parse: (s) => parseUri(s) });
  },
};

const nameAddrView = (a: NameAddr): unknown => ({ displayName: a.displayName, uri: a.uri, params: a.params });

const sipNameAddr: FuzzTarget = {
  name: 'sip-name-addr',
  seeds: [
    '"Exotel \\"IN\\"" <sip:+919876543210@pstn.in1.exotel.com>;tag=a6c85cf',
    'Bob <sips:bob@[::1]:5061;transport=tls>;expires=60;q=0.5',
    'sip:carol@example.com;tag=1928301774',
    '<tel:+14155550100>',
    ...URIS,
  ].map(enc),
  run(input) {
    const a = parseOrRefuse(() => parseNameAddr(dec(input)));
    if (a === undefined) return;
    roundTrip(a, {
      format: 'name-addr',
      serialize: formatNameAddr,
      parse: (s) => parseNameAddr(s),
      view: nameAddrView,
    });
  },
};

const sipVia: FuzzTarget = {
  name: 'sip-via',
  seeds: [
    'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.1',
    'SIP/2.0/TCP [2001:db8::9]:5061;branch=z9hG4bKx, SIP/2.0/UDP proxy.example.com;rport;hidden',
    'SIP/2.0/TLS pstn.in1.exotel.com ; branch = z9hG4bK-1 ; ttl=16',
  ].map(enc),
  run(input) {
    const vias = parseOrRefuse(() => parseVia(dec(input)));
    if (vias === undefined) return;
    roundTrip(vias, { format: 'Via', serialize: (v) => v.map(formatVia).join(', '), parse: parseVia });
  },
};

function rr(blocks: number): Uint8Array {
  const b = new Uint8Array(8 + 24 * blocks);
  b[0] = 0x80 | blocks;
  b[1] = 201;
  b[3] = b.length / 4 - 1;
  b.fill(7, 4);
  return b;
}

/** An RR with at most one block is what writeRtcpReport writes: it must round-trip. */
function rtcpOneBlockRr(r: RtcpReport): void {
  if (r.packetType !== 201 || r.reports.length > 1) return;
  roundTrip(r, {
    format: 'RTCP RR',
    serialize: (m) => {
      const out = new Uint8Array(32);
      const n = writeRtcpReport(out, 0, m.ssrc, undefined, m.reports[0]);
      return out.subarray(0, n);
    },
    parse: (b) => parseRtcpReport(b),
  });
}

const rtcp: FuzzTarget = {
  name: 'rtcp',
  seeds: [rr(0), rr(1), rr(3), writeSr()],
  run(input) {
    const r = parseOrRefuse(() => parseRtcpReport(input));
    parseOrRefuse(() => readRtcpCompound(input, 0x07070707, createRtcpFeedback()));
    if (r === undefined) return;
    if (r.reports.length * 24 + (r.sender ? 28 : 8) > input.length) {
      throw new FuzzFailure(`${r.reports.length} report blocks cannot fit in ${input.length} bytes`);
    }
    rtcpOneBlockRr(r);
  },
};

function writeSr(): Uint8Array {
  const out = new Uint8Array(52);
  const sender = {
    wallClockMs: (3_900_000_000 - NTP_UNIX_OFFSET_S) * 1000,
    rtpTimestamp: 160,
    packetCount: 5,
    octetCount: 800,
  };
  const block = {
    ssrc: 9,
    fractionLost: 3,
    cumulativeLost: -2,
    highestSequence: 70000,
    jitter: 12,
    lastSr: 1,
    delaySinceLastSr: 2,
  };
  return out.subarray(0, writeRtcpReport(out, 0, 1, sender, block));
}

/** What we send to Exotel, written again from its parse. */
function writeBotEvent(e: BotStreamEvent): string {
  switch (e.event) {
    case 'media':
      return mediaMessage('MZ1', e.samples);
    case 'mark':
      return markMessage('MZ1', e.name);
    case 'clear':
      return clearMessage('MZ1');
    default:
      return JSON.stringify({ event: e.name, stream_sid: 'MZ1' });
  }
}

const agentStream: FuzzTarget = {
  name: 'agentstream',
  seeds: [
    '{"event":"media","stream_sid":"MZ1","media":{"payload":"AAABAAIA"}}',
    '{"event":"mark","stream_sid":"MZ1","mark":{"name":"utt-1"}}',
    '{"event":"clear","stream_sid":"MZ1"}',
    '{"event":"start","sequence_number":1,"stream_sid":"MZ1","start":{"stream_sid":"MZ1","call_sid":"CA1","account_sid":"AC1","from":"+919876543210","to":"08047112345","media_format":{"encoding":"raw/slin","sample_rate":8000}}}',
    '{"event":"dtmf","stream_sid":"MZ1","dtmf":{"digit":"5","duration":"120"}}',
    '{"event":"stop","stream_sid":"MZ1","stop":{"reason":"callended"}}',
  ].map(enc),
  run(input) {
    const text = Buffer.from(input).toString('utf8');
    parseOrRefuse(() => parseExotelEvent(text, { maxFieldChars: 256 }));
    const e = parseOrRefuse(() => parseBotEvent(text));
    if (e === undefined) return;
    // An unknown event keeps its name cut to 64 characters; the re-parse must agree.
    roundTrip(e, { format: 'AgentStream', serialize: writeBotEvent, parse: parseBotEvent });
  },
};

export const MORE_TARGETS: readonly FuzzTarget[] = [sipUri, sipNameAddr, sipVia, rtcp, agentStream];
