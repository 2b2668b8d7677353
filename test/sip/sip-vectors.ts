/**
 * SIP byte vectors shared by the parser, serializer, framer, fuzz tests and the bench.
 * Each message is an array of lines joined with CRLF. `canonical` vectors are written
 * exactly as the serializer writes them (canonical names, one space after the colon,
 * Content-Length correct), so `serialize(parse(x))` must reproduce them byte for byte.
 */

export const CRLF = '\r\n';

/** Joins lines with CRLF and appends the empty line plus the body. */
export function msg(lines: readonly string[], body = ''): string {
  return `${lines.join(CRLF)}${CRLF}${CRLF}${body}`;
}

function sdp(ip: string, port: number, extra: readonly string[] = []): string {
  return (
    [
      'v=0',
      `o=- 3912345678 3912345678 IN IP4 ${ip}`,
      's=-',
      `c=IN IP4 ${ip}`,
      't=0 0',
      `m=audio ${port} RTP/AVP 0 8 101`,
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
      ...extra,
      'a=sendrecv',
    ].join(CRLF) + CRLF
  );
}

const len = (s: string): number => new TextEncoder().encode(s).length;

export const OFFER_SDP = sdp('203.0.113.10', 40000);
export const ANSWER_SDP = sdp('198.51.100.20', 18000);

export interface Vector {
  name: string;
  text: string;
  canonical: boolean;
}

const INVITE_HEADERS = [
  'Via: SIP/2.0/TCP 203.0.113.10:5061;branch=z9hG4bK-524287-1---7f3a9c0e1d2b;rport',
  'Max-Forwards: 70',
  'From: "Exophone" <sip:08044556677@acme1.pstn.exotel.com>;tag=as6e3f1b2c',
  'To: <sip:+919876543210@pstn.in1.exotel.com>',
  'Call-ID: 5f4e3d2c1b0a99887766@203.0.113.10',
  'CSeq: 1 INVITE',
  'Contact: <sip:bridge@203.0.113.10:5061;transport=tcp>',
  'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS',
  'Supported: replaces, timer',
  'X-Exotel-AccountSid: acme1',
  'User-Agent: exotel-livekit-bridge/0.1.0',
  'Content-Type: application/sdp',
];

/** Exotel-style outbound INVITE with SDP over TCP. */
export const EXOTEL_INVITE = msg(
  [
    'INVITE sip:+919876543210@pstn.in1.exotel.com:5070;transport=tcp SIP/2.0',
    ...INVITE_HEADERS,
    `Content-Length: ${len(OFFER_SDP)}`,
  ],
  OFFER_SDP,
);

const RESPONSE_COMMON = [
  'Via: SIP/2.0/TCP 203.0.113.10:5061;branch=z9hG4bK-524287-1---7f3a9c0e1d2b;rport=5061;received=203.0.113.10',
  'From: "Exophone" <sip:08044556677@acme1.pstn.exotel.com>;tag=as6e3f1b2c',
  'To: <sip:+919876543210@pstn.in1.exotel.com>;tag=b7c1d2e3f4',
  'Call-ID: 5f4e3d2c1b0a99887766@203.0.113.10',
  'CSeq: 1 INVITE',
];

export const TRYING_100 = msg([
  'SIP/2.0 100 Trying',
  RESPONSE_COMMON[0]!,
  RESPONSE_COMMON[1]!,
  'To: <sip:+919876543210@pstn.in1.exotel.com>',
  RESPONSE_COMMON[3]!,
  RESPONSE_COMMON[4]!,
  'Server: Exotel-vSIP',
  'Content-Length: 0',
]);

export const RINGING_180 = msg([
  'SIP/2.0 180 Ringing',
  ...RESPONSE_COMMON,
  'Contact: <sip:+919876543210@198.51.100.20:5070;transport=tcp>',
  'Content-Length: 0',
]);

export const PROGRESS_183 = msg(
  [
    'SIP/2.0 183 Session Progress',
    ...RESPONSE_COMMON,
    'Contact: <sip:+919876543210@198.51.100.20:5070;transport=tcp>',
    'Content-Type: application/sdp',
    `Content-Length: ${len(ANSWER_SDP)}`,
  ],
  ANSWER_SDP,
);

/** 200 OK with two Record-Route entries and a Contact saying transport=tls (LiveKit SIP #730). */
export const OK_200 = msg(
  [
    'SIP/2.0 200 OK',
    ...RESPONSE_COMMON,
    'Record-Route: <sip:198.51.100.20:5070;transport=tcp;lr;ftag=as6e3f1b2c>, <sip:10.0.0.5;lr>',
    'Contact: <sip:+919876543210@198.51.100.21:5061;transport=tls>',
    'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS',
    'Content-Type: application/sdp',
    `Content-Length: ${len(ANSWER_SDP)}`,
  ],
  ANSWER_SDP,
);

export const UNAUTHORIZED_401 = msg([
  'SIP/2.0 401 Unauthorized',
  'Via: SIP/2.0/TCP 203.0.113.10:5061;branch=z9hG4bK-1;rport=5061',
  'From: <sip:08044556677@acme1.pstn.exotel.com>;tag=as6e3f1b2c',
  'To: <sip:+919876543210@pstn.in1.exotel.com>;tag=auth1',
  'Call-ID: 5f4e3d2c1b0a99887766@203.0.113.10',
  'CSeq: 1 INVITE',
  'WWW-Authenticate: Digest realm="pstn.exotel.com", nonce="a1b2c3d4e5f6, with comma", opaque="5ccc069c403ebaf9f0171e9517f40e41", algorithm=MD5, qop="auth,auth-int", stale=FALSE',
  'Content-Length: 0',
]);

export const PROXY_AUTH_407 = msg([
  'SIP/2.0 407 Proxy Authentication Required',
  'Via: SIP/2.0/TCP 203.0.113.10:5061;branch=z9hG4bK-2;rport=5061',
  'From: <sip:08044556677@acme1.pstn.exotel.com>;tag=as6e3f1b2c',
  'To: <sip:+919876543210@pstn.in1.exotel.com>;tag=auth2',
  'Call-ID: 5f4e3d2c1b0a99887766@203.0.113.10',
  'CSeq: 2 INVITE',
  'Proxy-Authenticate: Digest realm="exotel", nonce="bm9uY2U=", algorithm=SHA-256, qop="auth", stale=true',
  'Content-Length: 0',
]);

export const BYE = msg([
  'BYE sip:+919876543210@198.51.100.21:5061;transport=tls SIP/2.0',
  'Via: SIP/2.0/TCP 203.0.113.10:5061;branch=z9hG4bK-bye1;rport',
  'Max-Forwards: 70',
  'Route: <sip:198.51.100.20:5070;transport=tcp;lr;ftag=as6e3f1b2c>',
  'Route: <sip:10.0.0.5;lr>',
  'From: "Exophone" <sip:08044556677@acme1.pstn.exotel.com>;tag=as6e3f1b2c',
  'To: <sip:+919876543210@pstn.in1.exotel.com>;tag=b7c1d2e3f4',
  'Call-ID: 5f4e3d2c1b0a99887766@203.0.113.10',
  'CSeq: 2 BYE',
  'Content-Length: 0',
]);

export const OPTIONS = msg([
  'OPTIONS sip:pstn.in1.exotel.com:5070 SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKopt77;rport',
  'Max-Forwards: 70',
  'From: <sip:ping@192.0.2.4>;tag=opt1',
  'To: <sip:pstn.in1.exotel.com>',
  'Call-ID: opt-1234@192.0.2.4',
  'CSeq: 101 OPTIONS',
  'Accept: application/sdp',
  'Content-Length: 0',
]);

/** Torture-test-like vectors in the spirit of RFC 4475 (non-canonical spelling). */
export const TORTURE_WS = msg(
  [
    'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0',
    'TO :',
    ' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n',
    'from   : "J Rosenberg \\\\\\"" <sip:jdrosen@example.com>',
    '  ;',
    '  tag = 98asjd8',
    'MaX-fOrWaRdS: 0068',
    'Call-ID: wsinv.ndaksdj@192.0.2.1',
    'Content-Length   : 150',
    'cseq: 0009',
    '  INVITE',
    'Via  : SIP  /   2.0',
    ' /UDP',
    '    192.0.2.2;rport;branch=390skdjuw',
    's :',
    'NewFangledHeader:   newfangled value',
    ' continued newfangled value',
    'UnknownHeaderWithUnusualValue: ;;,,;;,;',
    'Content-Type: application/sdp',
    'Route:',
    ' <sip:services.example.com;lr;unknownwith=value;unknown-no-value>',
    'v:  SIP  / 2.0  / TCP     spindle.example.com   ;',
    '  branch  =   z9hG4bK9ikj8  ,',
    ' SIP  /    2.0   / UDP  192.168.255.111   ; branch=',
    ' z9hG4bK30239',
    'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =',
    '      newvalue ;',
    '  secondparam ; q = 0.33',
  ],
  [
    'v=0',
    'o=mhandley 29739 7272939 IN IP4 192.0.2.3',
    's=-',
    'c=IN IP4 192.0.2.4',
    't=0 0',
    'm=audio 49217 RTP/AVP 0 12',
    'm=video 3227 RTP/AVP 31',
    'a=rtpmap:31 LPC',
  ].join(CRLF) + CRLF,
);

/** Compact forms, several Via lines, IPv6, rport with and without value, Contact `*`. */
export const TORTURE_COMPACT = msg([
  'REGISTER sip:[2001:db8::10]:5070 SIP/2.0',
  'v: SIP/2.0/TCP [2001:db8::9:1]:5061;branch=z9hG4bKc1;rport;received=2001:db8::9:255',
  'v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKc2;rport=5062, SIP/2.0/TLS gw.example.com:5061;branch=z9hG4bKc3',
  'f: <sip:alice@[2001:db8::9:1]>;tag=cmp1',
  't: sip:alice@example.com',
  'i: compact-1@[2001:db8::9:1]',
  'CSeq: 3 REGISTER',
  'm: *',
  'Expires: 0',
  'k: path, outbound',
  'l: 0',
]);

/** Escaped display names, unusual spacing and tokens. */
export const TORTURE_ESCAPES = msg(
  [
    'MESSAGE sip:bob@example.com;transport=tcp SIP/2.0',
    'Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK-esc;received=192.0.2.200',
    'Max-Forwards: 70',
    'From: "\\"Q\\" Smith \\\\ Co" <sip:q@example.com;user=phone>;tag=esc-1',
    'To: Bob   Jones <sip:bob@example.com>',
    'Call-ID: esc-1',
    'Reply-To: "Jos\u00e9 \u0928\u092e\u0938\u094d\u0924\u0947" <sip:jose@example.com>',
    'CSeq: 1 MESSAGE',
    'Content-Type: text/plain; charset="utf-8"',
    'Subject: ',
    'Content-Length: 11',
  ],
  'hello world',
);

/** tel: URIs and bare LF line ends in the header section. */
export const TORTURE_BARE_LF = [
  'INVITE tel:+919876543210;phone-context=+91 SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKlf',
  'From: <tel:+918044556677>;tag=lf1',
  'To: <tel:+919876543210;phone-context=+91>',
  'Call-ID: lf-1',
  'CSeq: 7 INVITE',
  'Max-Forwards: 70',
  'Content-Length: 4',
  '',
  'abcd',
].join('\n');

export const WELL_FORMED: readonly Vector[] = [
  { name: 'Exotel INVITE with SDP', text: EXOTEL_INVITE, canonical: true },
  { name: '100 Trying', text: TRYING_100, canonical: true },
  { name: '180 Ringing', text: RINGING_180, canonical: true },
  { name: '183 with SDP', text: PROGRESS_183, canonical: true },
  { name: '200 OK with Record-Route', text: OK_200, canonical: true },
  { name: '401 WWW-Authenticate', text: UNAUTHORIZED_401, canonical: true },
  { name: '407 Proxy-Authenticate', text: PROXY_AUTH_407, canonical: true },
  { name: 'BYE with routes', text: BYE, canonical: true },
  { name: 'OPTIONS', text: OPTIONS, canonical: true },
  { name: 'torture: whitespace and folding', text: TORTURE_WS, canonical: false },
  { name: 'torture: compact forms, IPv6, Contact *', text: TORTURE_COMPACT, canonical: false },
  { name: 'torture: escapes', text: TORTURE_ESCAPES, canonical: true },
  { name: 'torture: bare LF, tel URIs', text: TORTURE_BARE_LF, canonical: false },
];

const BASE_HEADERS = [
  'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKbad',
  'Max-Forwards: 70',
  'From: <sip:a@example.com>;tag=1',
  'To: <sip:b@example.com>',
  'Call-ID: bad-1',
  'CSeq: 1 INVITE',
];

function withHeader(replace: string, line: string | null): string[] {
  const out: string[] = [];
  for (const h of BASE_HEADERS) {
    if (h.startsWith(`${replace}:`)) {
      if (line !== null) out.push(line);
    } else out.push(h);
  }
  return out;
}

export interface BadVector {
  name: string;
  text: string;
  /** The header the error must name, or `undefined` for start-line / structure errors. */
  header: string | undefined;
}

const REQ = 'INVITE sip:b@example.com SIP/2.0';

export const MALFORMED: readonly BadVector[] = [
  {
    name: 'bad SIP version',
    text: msg(['INVITE sip:b@example.com SIP/7.0', ...BASE_HEADERS, 'Content-Length: 0']),
    header: undefined,
  },
  {
    name: 'request line with extra space',
    text: msg(['INVITE  sip:b@example.com SIP/2.0', ...BASE_HEADERS, 'Content-Length: 0']),
    header: undefined,
  },
  {
    name: 'request line with two parts',
    text: msg(['INVITE sip:b@example.com', ...BASE_HEADERS]),
    header: undefined,
  },
  { name: 'status 099', text: msg(['SIP/2.0 099 Too Low', ...BASE_HEADERS]), header: undefined },
  { name: 'status 700', text: msg(['SIP/2.0 700 Too High', ...BASE_HEADERS]), header: undefined },
  { name: 'status not digits', text: msg(['SIP/2.0 2x0 OK', ...BASE_HEADERS]), header: undefined },
  { name: 'header line without colon', text: msg([REQ, ...BASE_HEADERS, 'NoColonHere']), header: undefined },
  { name: 'invalid header name', text: msg([REQ, ...BASE_HEADERS, 'Bad Name: x']), header: undefined },
  { name: 'header name with "@"', text: msg([REQ, ...BASE_HEADERS, 'X-A@b: x']), header: undefined },
  {
    name: 'CSeq without method',
    text: msg([REQ, ...withHeader('CSeq', 'CSeq: 1'), 'Content-Length: 0']),
    header: 'CSeq',
  },
  { name: 'CSeq huge', text: msg([REQ, ...withHeader('CSeq', 'CSeq: 4294967296 INVITE')]), header: 'CSeq' },
  { name: 'CSeq negative', text: msg([REQ, ...withHeader('CSeq', 'CSeq: -1 INVITE')]), header: 'CSeq' },
  { name: 'CSeq method mismatch', text: msg([REQ, ...withHeader('CSeq', 'CSeq: 1 ACK')]), header: 'CSeq' },
  { name: 'two CSeq lines', text: msg([REQ, ...BASE_HEADERS, 'CSeq: 2 INVITE']), header: 'CSeq' },
  { name: 'missing Call-ID', text: msg([REQ, ...withHeader('Call-ID', null)]), header: 'Call-ID' },
  {
    name: 'Call-ID with space',
    text: msg([REQ, ...withHeader('Call-ID', 'Call-ID: a b')]),
    header: 'Call-ID',
  },
  { name: 'missing Via', text: msg([REQ, ...withHeader('Via', null)]), header: 'Via' },
  {
    name: 'Via wrong protocol',
    text: msg([REQ, ...withHeader('Via', 'Via: SIP/3.0/UDP host;branch=z9hG4bK1')]),
    header: 'Via',
  },
  {
    name: 'Via without host',
    text: msg([REQ, ...withHeader('Via', 'Via: SIP/2.0/UDP ;branch=z9hG4bK1')]),
    header: 'Via',
  },
  {
    name: 'Via bad port',
    text: msg([REQ, ...withHeader('Via', 'Via: SIP/2.0/UDP host:70000;branch=z9hG4bK1')]),
    header: 'Via',
  },
  {
    name: 'Via bad rport',
    text: msg([REQ, ...withHeader('Via', 'Via: SIP/2.0/UDP host;rport=abc')]),
    header: 'Via',
  },
  {
    name: 'Via unterminated IPv6',
    text: msg([REQ, ...withHeader('Via', 'Via: SIP/2.0/UDP [2001:db8::1;branch=z9hG4bK1')]),
    header: 'Via',
  },
  {
    name: 'From unterminated quote',
    text: msg([REQ, ...withHeader('From', 'From: "Alice <sip:a@example.com>;tag=1')]),
    header: 'From',
  },
  {
    name: 'From missing >',
    text: msg([REQ, ...withHeader('From', 'From: <sip:a@example.com;tag=1')]),
    header: 'From',
  },
  { name: 'To unknown scheme', text: msg([REQ, ...withHeader('To', 'To: <isbn:2983792873>')]), header: 'To' },
  {
    name: 'To two addresses',
    text: msg([REQ, ...withHeader('To', 'To: <sip:b@example.com>, <sip:c@example.com>')]),
    header: 'To',
  },
  {
    name: 'Max-Forwards not a number',
    text: msg([REQ, ...withHeader('Max-Forwards', 'Max-Forwards: seventy')]),
    header: 'Max-Forwards',
  },
  {
    name: 'Content-Length negative',
    text: msg([REQ, ...BASE_HEADERS, 'Content-Length: -5']),
    header: 'Content-Length',
  },
  {
    name: 'Content-Length huge',
    text: msg([REQ, ...BASE_HEADERS, 'Content-Length: 99999999999999999999']),
    header: 'Content-Length',
  },
  {
    name: 'Content-Length larger than body',
    text: msg([REQ, ...BASE_HEADERS, 'Content-Length: 50'], 'short'),
    header: 'Content-Length',
  },
  {
    name: 'Content-Length conflicting',
    text: msg([REQ, ...BASE_HEADERS, 'Content-Length: 0', 'l: 3'], 'abc'),
    header: 'Content-Length',
  },
  {
    name: 'Content-Type without subtype',
    text: msg([REQ, ...BASE_HEADERS, 'Content-Type: application', 'Content-Length: 0']),
    header: 'Content-Type',
  },
  { name: 'no empty line', text: [REQ, ...BASE_HEADERS].join(CRLF), header: undefined },
  { name: 'continuation before any header', text: msg([REQ, ' folded', ...BASE_HEADERS]), header: undefined },
];
