/**
 * Exotel's AgentStream messages, byte for byte: every event Exotel sends in its documented
 * shape (numbers as decimal strings, JSON numbers accepted too), every reason a message is
 * refused, custom parameters and their bounds, the audio formats, strict base64 PCM, the
 * simulator's `ExotelEventWriter` and our bot messages read back by their parsers, and
 * properties: nothing but `StreamProtocolError` ever escapes a parser.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clearMessage,
  decodePcm,
  encodePcm,
  ExotelEventWriter,
  markMessage,
  mediaMessage,
  parseBotEvent,
  parseExotelEvent,
  type ExotelStreamEvent,
  type StreamParseLimits,
} from '../../src/agentstream/protocol.js';
import { StreamProtocolError, type StreamProtocolReason } from '../../src/errors.js';

const SID = 'a8d3f1c2e7b94f0c9d6e5b4a3c2d1e0f';
const CALL = 'b51f0e9d2c7a4e36a1d8c3f2e5b7a901';

/** The reason of the `StreamProtocolError` that `f` throws; fails on any other outcome. */
function reasonOf(f: () => unknown): StreamProtocolReason {
  let thrown: unknown;
  try {
    f();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(StreamProtocolError);
  return (thrown as StreamProtocolError).reason;
}

/** A `start` message whose `start` object is `start` (the other top-level fields as Exotel sends them). */
function startWith(start: Record<string, unknown>): string {
  return JSON.stringify({ event: 'start', sequence_number: '1', stream_sid: SID, start });
}

/** A complete `start` object; `over` replaces or adds fields. */
function startObject(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    stream_sid: SID,
    call_sid: CALL,
    account_sid: 'exotel-acct',
    from: '09876543210',
    to: '08044319240',
    custom_parameters: {},
    media_format: { encoding: 'audio/x-raw', sample_rate: '8000', bit_rate: '16' },
    ...over,
  };
}

function startEvent(
  text: string,
  limits?: StreamParseLimits,
): Extract<ExotelStreamEvent, { event: 'start' }> {
  const ev = parseExotelEvent(text, limits);
  if (ev.event !== 'start') throw new Error(`expected start, got ${ev.event}`);
  return ev;
}

describe('parseExotelEvent: what Exotel sends, byte for byte', () => {
  it('connected', () => {
    expect(parseExotelEvent('{"event":"connected"}')).toEqual({ event: 'connected' });
  });

  it('start, numbers as strings, with its custom parameters and 16 kHz format', () => {
    const text = [
      '{"event":"start","sequence_number":"1","stream_sid":"a8d3f1c2e7b94f0c9d6e5b4a3c2d1e0f",',
      '"start":{"stream_sid":"a8d3f1c2e7b94f0c9d6e5b4a3c2d1e0f","call_sid":"b51f0e9d2c7a4e36a1d8c3f2e5b7a901",',
      '"account_sid":"exotel-acct","from":"09876543210","to":"08044319240",',
      '"custom_parameters":{"lang":"hi","agent":"sales"},',
      '"media_format":{"encoding":"audio/x-raw","sample_rate":"16000","bit_rate":"16"}}}',
    ].join('');
    expect(parseExotelEvent(text)).toEqual({
      event: 'start',
      sequenceNumber: 1,
      start: {
        streamSid: SID,
        callSid: CALL,
        accountSid: 'exotel-acct',
        from: '09876543210',
        to: '08044319240',
        customParameters: { lang: 'hi', agent: 'sales' },
        encoding: 'audio/x-raw',
        sampleRate: 16000,
        bitRate: 16,
      },
    });
  });

  it('start, pretty-printed with JSON numbers', () => {
    const text = [
      '{',
      '  "event": "start",',
      '  "sequence_number": 1,',
      `  "stream_sid": "${SID}",`,
      '  "start": {',
      `    "stream_sid": "${SID}",`,
      `    "call_sid": "${CALL}",`,
      '    "account_sid": "exotel-acct",',
      '    "from": "+919876543210",',
      '    "to": "08044319240",',
      '    "custom_parameters": {},',
      '    "media_format": { "encoding": "audio/x-raw", "sample_rate": 24000, "bit_rate": 16 }',
      '  }',
      '}',
    ].join('\n');
    const ev = startEvent(text);
    expect(ev.sequenceNumber).toBe(1);
    expect(ev.start).toMatchObject({ from: '+919876543210', sampleRate: 24000, bitRate: 16 });
  });

  // Exotel's own `start` does not say "audio/x-raw" / "16": the Voicebot documentation's example,
  // as reproduced by many public Exotel integrations, has
  // {"encoding":"base64","sample_rate":"8000","bit_rate":"128kbps"} (16-bit PCM at 8 kHz is
  // 128 kbit/s), and one integration's recorded start has {"encoding":"raw/slin","sample_rate":"8000"}
  // ("raw/slin" is how the documentation names the audio). The parser takes only "audio/x-raw"
  // and a bit_rate of 16, so such a start is refused and, being before `start`, the stream is
  // closed at once with 1008 (see the report). The simulator's ExotelEventWriter writes the
  // accepted shape, so no simulator test can see this.
  it('start as Exotel documents it: encoding base64, bit_rate 128kbps', () => {
    const text = startWith(
      startObject({ media_format: { encoding: 'base64', sample_rate: '8000', bit_rate: '128kbps' } }),
    );
    expect(startEvent(text).start).toMatchObject({ streamSid: SID, callSid: CALL, sampleRate: 8000 });
  });

  it('start as recorded from Exotel: encoding raw/slin, no bit_rate', () => {
    const text = startWith(startObject({ media_format: { encoding: 'raw/slin', sample_rate: '16000' } }));
    expect(startEvent(text).start).toMatchObject({ streamSid: SID, callSid: CALL, sampleRate: 16000 });
  });

  it('media, numbers as strings; the payload is returned still encoded', () => {
    const text =
      '{"event":"media","sequence_number":"3","stream_sid":"a8d3f1c2e7b94f0c9d6e5b4a3c2d1e0f",' +
      '"media":{"chunk":"2","timestamp":"200","payload":"AAABAP//"}}';
    const ev = parseExotelEvent(text);
    expect(ev).toEqual({
      event: 'media',
      sequenceNumber: 3,
      streamSid: SID,
      chunk: 2,
      timestamp: 200,
      payload: 'AAABAP//',
    });
    expect(Array.from(decodePcm((ev as { payload: string }).payload))).toEqual([0, 1, -1]);
  });

  it('media with JSON numbers, and without chunk, timestamp or sequence_number (0)', () => {
    expect(
      parseExotelEvent(
        '{"event":"media","sequence_number":3,"media":{"chunk":2,"timestamp":200,"payload":""}}',
      ),
    ).toEqual({ event: 'media', sequenceNumber: 3, streamSid: '', chunk: 2, timestamp: 200, payload: '' });
    expect(parseExotelEvent('{"event":"media","media":{"payload":"AQA="}}')).toEqual({
      event: 'media',
      sequenceNumber: 0,
      streamSid: '',
      chunk: 0,
      timestamp: 0,
      payload: 'AQA=',
    });
  });

  it('dtmf, numbers as strings and as numbers; a-d read as A-D', () => {
    expect(
      parseExotelEvent(
        '{"event":"dtmf","sequence_number":"5","stream_sid":"a8d3f1c2e7b94f0c9d6e5b4a3c2d1e0f","dtmf":{"duration":"120","digit":"7"}}',
      ),
    ).toEqual({ event: 'dtmf', sequenceNumber: 5, streamSid: SID, digit: '7', durationMs: 120 });
    expect(
      parseExotelEvent('{"event":"dtmf","sequence_number":6,"dtmf":{"duration":80,"digit":"#"}}'),
    ).toEqual({
      event: 'dtmf',
      sequenceNumber: 6,
      streamSid: '',
      digit: '#',
      durationMs: 80,
    });
    for (const [digit, out] of [
      ['*', '*'],
      ['0', '0'],
      ['9', '9'],
      ['A', 'A'],
      ['d', 'D'],
    ]) {
      const ev = parseExotelEvent(`{"event":"dtmf","dtmf":{"digit":"${digit}"}}`);
      expect(ev).toEqual({ event: 'dtmf', sequenceNumber: 0, streamSid: '', digit: out, durationMs: 0 });
    }
  });

  it('mark', () => {
    expect(
      parseExotelEvent(
        '{"event":"mark","sequence_number":"15","stream_sid":"a8d3f1c2e7b94f0c9d6e5b4a3c2d1e0f","mark":{"name":"m12"}}',
      ),
    ).toEqual({ event: 'mark', sequenceNumber: 15, streamSid: SID, name: 'm12' });
  });

  it('stop, and a stop without its stop object', () => {
    expect(
      parseExotelEvent(
        '{"event":"stop","sequence_number":"42","stream_sid":"a8d3f1c2e7b94f0c9d6e5b4a3c2d1e0f",' +
          '"stop":{"call_sid":"b51f0e9d2c7a4e36a1d8c3f2e5b7a901","account_sid":"exotel-acct","reason":"callended"}}',
      ),
    ).toEqual({ event: 'stop', sequenceNumber: 42, streamSid: SID, callSid: CALL, reason: 'callended' });
    expect(parseExotelEvent('{"event":"stop"}')).toEqual({
      event: 'stop',
      sequenceNumber: 0,
      streamSid: '',
      callSid: '',
      reason: '',
    });
  });

  it('ignores fields it does not know (track, extra keys)', () => {
    const ev = parseExotelEvent(
      '{"event":"media","sequence_number":"2","stream_sid":"s","extra":[1,2],"media":{"track":"inbound","chunk":"1","timestamp":"100","payload":""}}',
    );
    expect(ev).toEqual({
      event: 'media',
      sequenceNumber: 2,
      streamSid: 's',
      chunk: 1,
      timestamp: 100,
      payload: '',
    });
  });

  it('takes the top-level stream_sid when start has none', () => {
    const { stream_sid: _sid, ...rest } = startObject();
    expect(startEvent(startWith(rest)).start.streamSid).toBe(SID);
  });

  it('defaults: no media_format means 8000 Hz audio/x-raw 16-bit; no custom_parameters, account_sid, from, to means empty', () => {
    expect(startEvent(startWith({ stream_sid: SID, call_sid: CALL })).start).toEqual({
      streamSid: SID,
      callSid: CALL,
      accountSid: '',
      from: '',
      to: '',
      customParameters: {},
      encoding: 'audio/x-raw',
      sampleRate: 8000,
      bitRate: 16,
    });
    expect(startEvent(startWith(startObject({ custom_parameters: null }))).start.customParameters).toEqual(
      {},
    );
  });
});

describe('parseExotelEvent: unknown events', () => {
  it('an event name it does not know is returned as unknown, never an error', () => {
    expect(parseExotelEvent('{"event":"clear"}')).toEqual({ event: 'unknown', name: 'clear' });
    expect(parseExotelEvent('{"event":"transcript","text":"x"}')).toEqual({
      event: 'unknown',
      name: 'transcript',
    });
    expect(parseExotelEvent('{"event":""}')).toEqual({ event: 'unknown', name: '' });
  });

  it('cuts an unknown name to 64 characters', () => {
    const name = 'x'.repeat(1000);
    expect(parseExotelEvent(JSON.stringify({ event: name }))).toEqual({
      event: 'unknown',
      name: 'x'.repeat(64),
    });
  });

  it('the event names are case-sensitive: "Start" is unknown', () => {
    expect(parseExotelEvent('{"event":"Start"}')).toEqual({ event: 'unknown', name: 'Start' });
  });
});

describe('parseExotelEvent: every reason it refuses a message', () => {
  it.each([
    '',
    ' ',
    '{',
    '{"event":"media",}',
    "{'event':'media'}",
    'event',
    '\uFEFF{"event":"connected"}',
    'NaN',
  ])('malformed-json: %j', (text) => {
    expect(reasonOf(() => parseExotelEvent(text))).toBe('malformed-json');
  });

  it('malformed-json keeps the JSON error as its cause', () => {
    try {
      parseExotelEvent('{');
      expect.unreachable();
    } catch (err) {
      expect((err as StreamProtocolError).code).toBe('STREAM_PROTOCOL');
      expect((err as Error).cause).toBeInstanceOf(SyntaxError);
    }
  });

  it.each([
    ['not an object: null', 'null'],
    ['not an object: array', '[{"event":"connected"}]'],
    ['not an object: string', '"connected"'],
    ['not an object: number', '42'],
    ['no event name', '{}'],
    ['event name not a string', '{"event":7}'],
    ['event name null', '{"event":null}'],
    ['start without start', '{"event":"start"}'],
    ['start is an array', '{"event":"start","start":[]}'],
    ['start without call_sid', startWith({ stream_sid: SID })],
    ['start with an empty call_sid', startWith(startObject({ call_sid: '' }))],
    ['start with a numeric call_sid', startWith(startObject({ call_sid: 12 }))],
    ['start without any stream_sid', JSON.stringify({ event: 'start', start: { call_sid: CALL } })],
    [
      'start with an empty stream_sid',
      JSON.stringify({ event: 'start', start: { stream_sid: '', call_sid: CALL } }),
    ],
    ['from not a string', startWith(startObject({ from: 9876543210 }))],
    ['custom_parameters an array', startWith(startObject({ custom_parameters: ['a'] }))],
    ['custom_parameters a string', startWith(startObject({ custom_parameters: 'a=b' }))],
    ['sequence_number negative', '{"event":"mark","sequence_number":"-1","mark":{"name":"m1"}}'],
    ['sequence_number fractional', '{"event":"mark","sequence_number":1.5,"mark":{"name":"m1"}}'],
    ['sequence_number -1 as number', '{"event":"mark","sequence_number":-1,"mark":{"name":"m1"}}'],
    ['sequence_number hex', '{"event":"mark","sequence_number":"0x10","mark":{"name":"m1"}}'],
    ['sequence_number 13 digits', '{"event":"mark","sequence_number":"1234567890123","mark":{"name":"m1"}}'],
    ['sequence_number empty', '{"event":"mark","sequence_number":"","mark":{"name":"m1"}}'],
    ['sequence_number padded', '{"event":"mark","sequence_number":" 1","mark":{"name":"m1"}}'],
    ['sequence_number null', '{"event":"mark","sequence_number":null,"mark":{"name":"m1"}}'],
    ['sequence_number unsafe', '{"event":"mark","sequence_number":9007199254740993,"mark":{"name":"m1"}}'],
    ['media without media', '{"event":"media"}'],
    ['media without payload', '{"event":"media","media":{}}'],
    ['media payload a number', '{"event":"media","media":{"payload":5}}'],
    ['media chunk not a number', '{"event":"media","media":{"chunk":"one","payload":""}}'],
    ['media timestamp negative', '{"event":"media","media":{"timestamp":"-100","payload":""}}'],
    ['dtmf without dtmf', '{"event":"dtmf"}'],
    ['dtmf without digit', '{"event":"dtmf","dtmf":{}}'],
    ['dtmf digit x', '{"event":"dtmf","dtmf":{"digit":"x"}}'],
    ['dtmf digit E', '{"event":"dtmf","dtmf":{"digit":"E"}}'],
    ['dtmf two digits', '{"event":"dtmf","dtmf":{"digit":"12"}}'],
    ['dtmf empty digit', '{"event":"dtmf","dtmf":{"digit":""}}'],
    ['dtmf digit a number', '{"event":"dtmf","dtmf":{"digit":1}}'],
    ['dtmf duration text', '{"event":"dtmf","dtmf":{"digit":"1","duration":"long"}}'],
    ['mark without mark', '{"event":"mark"}'],
    ['mark without name', '{"event":"mark","mark":{}}'],
    ['mark with an empty name', '{"event":"mark","mark":{"name":""}}'],
    ['stream_sid a number', '{"event":"mark","stream_sid":5,"mark":{"name":"m1"}}'],
    ['stop call_sid a number', '{"event":"stop","stop":{"call_sid":5}}'],
  ])('bad-event: %s', (_what, text) => {
    expect(reasonOf(() => parseExotelEvent(text))).toBe('bad-event');
  });

  it('bad-event: a string field over maxFieldChars (default 256)', () => {
    const at = (n: number): string =>
      JSON.stringify({ event: 'mark', stream_sid: 's'.repeat(n), mark: { name: 'm1' } });
    expect(parseExotelEvent(at(256))).toMatchObject({ event: 'mark', streamSid: 's'.repeat(256) });
    expect(reasonOf(() => parseExotelEvent(at(257)))).toBe('bad-event');
    expect(reasonOf(() => parseExotelEvent(at(11), { maxFieldChars: 10 }))).toBe('bad-event');
    expect(parseExotelEvent(at(10), { maxFieldChars: 10 })).toMatchObject({ streamSid: 's'.repeat(10) });
    const longCall = startWith(startObject({ call_sid: 'c'.repeat(257) }));
    expect(reasonOf(() => parseExotelEvent(longCall))).toBe('bad-event');
  });

  it('too-large: a media payload over maxPayloadChars (default 96 KiB of characters)', () => {
    const media = (n: number): string =>
      JSON.stringify({ event: 'media', media: { payload: 'A'.repeat(n) } });
    expect(parseExotelEvent(media(96 * 1024))).toMatchObject({ event: 'media' });
    expect(reasonOf(() => parseExotelEvent(media(96 * 1024 + 1)))).toBe('too-large');
    expect(parseExotelEvent(media(8), { maxPayloadChars: 8 })).toMatchObject({ payload: 'AAAAAAAA' });
    expect(reasonOf(() => parseExotelEvent(media(12), { maxPayloadChars: 8 }))).toBe('too-large');
  });

  it('bad-payload is not parseExotelEvent’s: the payload comes back encoded and decodePcm refuses it', () => {
    const ev = parseExotelEvent('{"event":"media","media":{"payload":"not base64!"}}');
    expect(ev).toMatchObject({ event: 'media', payload: 'not base64!' });
    expect(reasonOf(() => decodePcm('not base64!'))).toBe('bad-payload');
  });
});

describe('parseExotelEvent: custom parameters', () => {
  const withParams = (p: unknown, limits?: StreamParseLimits) =>
    startEvent(startWith(startObject({ custom_parameters: p })), limits).start.customParameters;

  it('keeps strings, and numbers as their decimal text', () => {
    expect(withParams({ lang: 'hi', retries: 3, ratio: 0.5, empty: '' })).toEqual({
      lang: 'hi',
      retries: '3',
      ratio: '0.5',
      empty: '',
    });
  });

  it.each([
    ['a boolean', { flag: true }],
    ['null', { x: null }],
    ['an object', { x: { y: 'z' } }],
    ['an array', { x: ['y'] }],
  ])('refuses a value that is %s', (_what, p) => {
    expect(reasonOf(() => withParams(p))).toBe('bad-event');
  });

  it('takes at most 8 by default, and maxCustomParameters when given', () => {
    const n = (count: number): Record<string, string> =>
      Object.fromEntries(Array.from({ length: count }, (_, i) => [`p${i}`, `v${i}`]));
    expect(Object.keys(withParams(n(8)))).toHaveLength(8);
    expect(reasonOf(() => withParams(n(9)))).toBe('bad-event');
    expect(Object.keys(withParams(n(3), { maxCustomParameters: 3 }))).toHaveLength(3);
    expect(reasonOf(() => withParams(n(4), { maxCustomParameters: 3 }))).toBe('bad-event');
    expect(withParams({}, { maxCustomParameters: 0 })).toEqual({});
    expect(reasonOf(() => withParams(n(1), { maxCustomParameters: 0 }))).toBe('bad-event');
  });

  it('bounds names and values by maxFieldChars', () => {
    expect(withParams({ ['k'.repeat(256)]: 'v'.repeat(256) })).toEqual({
      ['k'.repeat(256)]: 'v'.repeat(256),
    });
    expect(reasonOf(() => withParams({ ['k'.repeat(257)]: 'v' }))).toBe('bad-event');
    expect(reasonOf(() => withParams({ k: 'v'.repeat(257) }))).toBe('bad-event');
    expect(reasonOf(() => withParams({ k: 'v'.repeat(5) }, { maxFieldChars: 4 }))).toBe('bad-event');
  });

  it('a "__proto__" key is an own property and pollutes nothing', () => {
    const text = startWith(startObject({})).replace(
      '"custom_parameters":{}',
      '"custom_parameters":{"__proto__":"x","constructor":"y","toString":"z"}',
    );
    const p = startEvent(text).start.customParameters;
    expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
    expect(Object.keys(p)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getOwnPropertyDescriptor(p, '__proto__')?.value).toBe('x');
    expect(Object.getOwnPropertyDescriptor(p, 'constructor')?.value).toBe('y');
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
    expect(typeof {}.toString).toBe('function');
  });

  it('a "__proto__" key with an object value is refused, and Object.prototype stays clean', () => {
    const text = startWith(startObject({})).replace(
      '"custom_parameters":{}',
      '"custom_parameters":{"__proto__":{"polluted":"yes"}}',
    );
    expect(reasonOf(() => parseExotelEvent(text))).toBe('bad-event');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('parseExotelEvent: audio formats', () => {
  const format = (f: Record<string, unknown>) => startWith(startObject({ media_format: f }));

  it.each([
    ['8000', 8000],
    ['16000', 16000],
    ['24000', 24000],
    [8000, 8000],
    [16000, 16000],
    [24000, 24000],
  ] as const)('sample_rate %j → %i Hz', (rate, hz) => {
    const ev = startEvent(format({ encoding: 'audio/x-raw', sample_rate: rate, bit_rate: '16' }));
    expect(ev.start.sampleRate).toBe(hz);
  });

  it('a media_format without sample_rate is 8000 Hz; one that is not an object means defaults', () => {
    expect(startEvent(format({ encoding: 'audio/x-raw' })).start.sampleRate).toBe(8000);
    expect(startEvent(startWith(startObject({ media_format: 'pcm' }))).start).toMatchObject({
      sampleRate: 8000,
      encoding: 'audio/x-raw',
      bitRate: 16,
    });
  });

  it.each([
    '44100',
    '48000',
    '11025',
    '32000',
    '0',
    '8000.0',
    '16k',
    'abc',
    '',
    44100,
    0,
    -8000,
    16000.5,
    null,
    true,
  ])('refuses sample_rate %j', (rate) => {
    expect(reasonOf(() => parseExotelEvent(format({ sample_rate: rate })))).toBe('bad-event');
  });

  it('accepts a media type in any case (media types are case-insensitive)', () => {
    const ev = parseExotelEvent(format({ encoding: 'AUDIO/X-RAW', sample_rate: '8000' }));
    expect(ev.event === 'start' && ev.start.encoding).toBe('AUDIO/X-RAW');
  });

  it.each(['audio/x-mulaw', 'audio/x-alaw', 'audio/x-raw ', 'PCMU', '', 5, null])(
    'refuses encoding %j',
    (encoding) => {
      expect(reasonOf(() => parseExotelEvent(format({ encoding, sample_rate: '8000' })))).toBe('bad-event');
    },
  );

  it.each(['8', '24', '32', '0', 8, 32, 'sixteen'])('refuses bit_rate %j', (bitRate) => {
    expect(reasonOf(() => parseExotelEvent(format({ sample_rate: '8000', bit_rate: bitRate })))).toBe(
      'bad-event',
    );
  });
});

describe('decodePcm and encodePcm', () => {
  it('decodes little-endian 16-bit samples', () => {
    expect(Array.from(decodePcm('AAABAP///38AgA=='))).toEqual([0, 1, -1, 32767, -32768]);
    expect(Array.from(decodePcm('AQA='))).toEqual([1]);
    expect(Array.from(decodePcm('AAAAAA=='))).toEqual([0, 0]);
    expect(decodePcm('')).toEqual(new Int16Array(0));
  });

  it('encodes little-endian 16-bit samples as standard padded base64', () => {
    expect(encodePcm(new Int16Array([0, 1, -1, 32767, -32768]))).toBe('AAABAP///38AgA==');
    expect(encodePcm(new Int16Array([1]))).toBe('AQA=');
    expect(encodePcm(new Int16Array(0))).toBe('');
  });

  it('returns a fresh array each time', () => {
    const a = decodePcm('AQA=');
    const b = decodePcm('AQA=');
    expect(a).not.toBe(b);
    a[0] = 9;
    expect(b[0]).toBe(1);
  });

  it.each([
    ['url-safe alphabet', 'AA-_'],
    ['a space', 'AA A'],
    ['a newline', 'AAAA\nAAAA'],
    ['a trailing newline', 'AAAA\n'],
    ['a star', 'AAA*'],
    ['a non-ASCII letter', 'ÀAAA'],
    ['a NUL', 'AAA\u0000'],
  ])('bad-payload: %s', (_what, payload) => {
    expect(reasonOf(() => decodePcm(payload))).toBe('bad-payload');
  });

  it.each([
    ['missing padding', 'AAA'],
    ['missing padding (2 chars)', 'AA'],
    ['one char', 'A'],
    ['a lone pad', '='],
    ['short padding', 'AA='],
    ['three pads', 'A==='],
    ['leading pad', '=AAA'],
    ['padding in the middle', 'AA==AAAA'],
    ['a pad after a full group', 'AAAA='],
    ['five characters', 'AAAAA'],
  ])('bad-payload: %s', (_what, payload) => {
    expect(reasonOf(() => decodePcm(payload))).toBe('bad-payload');
  });

  it.each([
    ['1 byte', 'AA=='],
    ['3 bytes', 'AAAA'],
    ['5 bytes', 'AAAAAAA='],
  ])('bad-payload: an odd byte count (%s)', (_what, payload) => {
    expect(reasonOf(() => decodePcm(payload))).toBe('bad-payload');
  });

  it('round-trips any samples', () => {
    fc.assert(
      fc.property(fc.int16Array({ maxLength: 2000 }), (samples) => {
        const text = encodePcm(samples);
        expect(text.length % 4).toBe(0);
        expect(decodePcm(text)).toEqual(samples);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes any even-length byte string written as base64 to its little-endian samples', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1000 }), (raw) => {
        const bytes = Buffer.from(raw.subarray(0, raw.length - (raw.length % 2)));
        const samples = decodePcm(bytes.toString('base64'));
        expect(samples.length).toBe(bytes.length / 2);
        for (let i = 0; i < samples.length; i++) expect(samples[i]).toBe(bytes.readInt16LE(i * 2));
      }),
      { numRuns: 300 },
    );
  });

  // The strictness regex backtracks once per 4-character group; V8 runs out of stack on a
  // payload of a few million characters and throws RangeError, not StreamProtocolError.
  // 16 MiB is the largest message the server may be configured to take (maxMessageBytes).
  it('a 16 M-character payload is decoded (or refused with StreamProtocolError), never RangeError', () => {
    const payload = 'AAAA'.repeat(4 * 1024 * 1024);
    let outcome: unknown;
    try {
      outcome = decodePcm(payload).length;
    } catch (err) {
      outcome = err;
    }
    expect(outcome).toBe(6 * 1024 * 1024);
  });
});

describe('ExotelEventWriter (the simulator’s Exotel) read back by parseExotelEvent', () => {
  it('numbers every message from 1 and every media chunk from 1, as decimal strings', () => {
    const w = new ExotelEventWriter('MZ1');
    const samples = new Int16Array([5, -5, 1000, -32768]);
    const texts = [
      w.connected(),
      w.start({
        callSid: 'CA1',
        accountSid: 'AC1',
        from: '09876543210',
        to: '08044319240',
        customParameters: { lang: 'hi' },
        sampleRate: 24000,
      }),
      w.media(samples, 100.4),
      w.media(new Int16Array(0), 200.6),
      w.dtmf('#', 250),
      w.dtmf('5'),
      w.mark('m1'),
      w.stop('CA1'),
      w.stop('CA1', 'stopped', 'AC1'),
    ];
    expect(texts.map((t) => parseExotelEvent(t))).toEqual([
      { event: 'connected' },
      {
        event: 'start',
        sequenceNumber: 1,
        start: {
          streamSid: 'MZ1',
          callSid: 'CA1',
          accountSid: 'AC1',
          from: '09876543210',
          to: '08044319240',
          customParameters: { lang: 'hi' },
          encoding: 'audio/x-raw',
          sampleRate: 24000,
          bitRate: 16,
        },
      },
      {
        event: 'media',
        sequenceNumber: 2,
        streamSid: 'MZ1',
        chunk: 1,
        timestamp: 100,
        payload: encodePcm(samples),
      },
      { event: 'media', sequenceNumber: 3, streamSid: 'MZ1', chunk: 2, timestamp: 201, payload: '' },
      { event: 'dtmf', sequenceNumber: 4, streamSid: 'MZ1', digit: '#', durationMs: 250 },
      { event: 'dtmf', sequenceNumber: 5, streamSid: 'MZ1', digit: '5', durationMs: 100 },
      { event: 'mark', sequenceNumber: 6, streamSid: 'MZ1', name: 'm1' },
      { event: 'stop', sequenceNumber: 7, streamSid: 'MZ1', callSid: 'CA1', reason: 'callended' },
      { event: 'stop', sequenceNumber: 8, streamSid: 'MZ1', callSid: 'CA1', reason: 'stopped' },
    ]);
  });

  it('writes Exotel’s field names and decimal strings, byte for byte', () => {
    const w = new ExotelEventWriter('MZ1');
    expect(w.connected()).toBe('{"event":"connected"}');
    expect(
      w.start({
        callSid: 'CA1',
        accountSid: 'AC1',
        from: 'f',
        to: 't',
        customParameters: {},
        sampleRate: 8000,
      }),
    ).toBe(
      '{"event":"start","sequence_number":"1","stream_sid":"MZ1","start":{"stream_sid":"MZ1","call_sid":"CA1",' +
        '"account_sid":"AC1","from":"f","to":"t","custom_parameters":{},' +
        '"media_format":{"encoding":"audio/x-raw","sample_rate":"8000","bit_rate":"16"}}}',
    );
    expect(w.media(new Int16Array([0, 1, -1]), 100)).toBe(
      '{"event":"media","sequence_number":"2","stream_sid":"MZ1","media":{"chunk":"1","timestamp":"100","payload":"AAABAP//"}}',
    );
    expect(w.dtmf('5')).toBe(
      '{"event":"dtmf","sequence_number":"3","stream_sid":"MZ1","dtmf":{"digit":"5","duration":"100"}}',
    );
    expect(w.mark('m1')).toBe(
      '{"event":"mark","sequence_number":"4","stream_sid":"MZ1","mark":{"name":"m1"}}',
    );
    expect(w.stop('CA1')).toBe(
      '{"event":"stop","sequence_number":"5","stream_sid":"MZ1","stop":{"call_sid":"CA1","account_sid":"","reason":"callended"}}',
    );
  });

  it('its start reads back at every rate', () => {
    for (const sampleRate of [8000, 16000, 24000] as const) {
      const text = new ExotelEventWriter('MZ').start({
        callSid: 'CA',
        accountSid: '',
        from: '',
        to: '',
        customParameters: {},
        sampleRate,
      });
      expect(startEvent(text).start.sampleRate).toBe(sampleRate);
    }
  });
});

describe('our messages to Exotel read back by parseBotEvent', () => {
  it('media, byte for byte, and its samples', () => {
    const text = mediaMessage('MZ1', new Int16Array([0, 1, -1]));
    expect(text).toBe('{"event":"media","stream_sid":"MZ1","media":{"payload":"AAABAP//"}}');
    expect(parseBotEvent(text)).toEqual({ event: 'media', samples: new Int16Array([0, 1, -1]) });
  });

  it('a 100 ms chunk at 16 kHz (3200 bytes) survives the trip', () => {
    const samples = Int16Array.from({ length: 1600 }, (_, i) => ((i * 37) % 65536) - 32768);
    const ev = parseBotEvent(mediaMessage('MZ1', samples));
    expect(ev.event).toBe('media');
    expect((ev as { samples: Int16Array }).samples).toEqual(samples);
  });

  it('mark and clear, byte for byte', () => {
    expect(markMessage('MZ1', 'm7')).toBe('{"event":"mark","stream_sid":"MZ1","mark":{"name":"m7"}}');
    expect(parseBotEvent(markMessage('MZ1', 'm7'))).toEqual({ event: 'mark', name: 'm7' });
    expect(clearMessage('MZ1')).toBe('{"event":"clear","stream_sid":"MZ1"}');
    expect(parseBotEvent(clearMessage('MZ1'))).toEqual({ event: 'clear' });
  });

  it('an unknown event is returned by name (cut to 64)', () => {
    expect(parseBotEvent('{"event":"start"}')).toEqual({ event: 'unknown', name: 'start' });
    expect(parseBotEvent(JSON.stringify({ event: 'y'.repeat(100) }))).toEqual({
      event: 'unknown',
      name: 'y'.repeat(64),
    });
  });

  it.each([
    ['malformed-json', '{'],
    ['malformed-json', ''],
    ['bad-event', 'null'],
    ['bad-event', '[]'],
    ['bad-event', '{}'],
    ['bad-event', '{"event":1}'],
    ['bad-event', '{"event":"media"}'],
    ['bad-event', '{"event":"media","media":{}}'],
    ['bad-event', '{"event":"media","media":{"payload":7}}'],
    ['bad-payload', '{"event":"media","media":{"payload":"AA=="}}'],
    ['bad-payload', '{"event":"media","media":{"payload":"AA-_"}}'],
    ['bad-event', '{"event":"mark"}'],
    ['bad-event', '{"event":"mark","mark":{"name":""}}'],
    ['bad-event', JSON.stringify({ event: 'mark', mark: { name: 'n'.repeat(257) } })],
  ])('%s: %s', (reason, text) => {
    expect(reasonOf(() => parseBotEvent(text))).toBe(reason);
  });
});

describe('properties: nothing but StreamProtocolError escapes', () => {
  /** Runs `f`; anything thrown must be a StreamProtocolError (the property fails otherwise). */
  function onlyTyped(f: () => unknown): void {
    try {
      f();
    } catch (err) {
      if (!(err instanceof StreamProtocolError)) throw err;
    }
  }

  const NAMES = ['connected', 'start', 'media', 'dtmf', 'mark', 'stop', 'clear', 'other'];
  /** Objects shaped like Exotel's, their fields anything JSON can hold. */
  const shaped = fc.record(
    {
      event: fc.oneof(fc.constantFrom(...NAMES), fc.jsonValue()),
      sequence_number: fc.oneof(fc.nat().map(String), fc.jsonValue()),
      stream_sid: fc.oneof(fc.string(), fc.jsonValue()),
      start: fc.oneof(
        fc.record(
          {
            stream_sid: fc.jsonValue(),
            call_sid: fc.oneof(fc.string(), fc.jsonValue()),
            account_sid: fc.jsonValue(),
            from: fc.jsonValue(),
            to: fc.jsonValue(),
            custom_parameters: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.jsonValue()),
            media_format: fc.oneof(
              fc.record(
                {
                  encoding: fc.oneof(fc.constant('audio/x-raw'), fc.jsonValue()),
                  sample_rate: fc.oneof(fc.constantFrom('8000', '16000', 24000), fc.jsonValue()),
                  bit_rate: fc.oneof(fc.constantFrom('16', 16), fc.jsonValue()),
                },
                { requiredKeys: [] },
              ),
              fc.jsonValue(),
            ),
          },
          { requiredKeys: [] },
        ),
        fc.jsonValue(),
      ),
      media: fc.oneof(
        fc.record(
          {
            payload: fc.oneof(fc.base64String(), fc.string(), fc.jsonValue()),
            chunk: fc.jsonValue(),
            timestamp: fc.jsonValue(),
          },
          { requiredKeys: [] },
        ),
        fc.jsonValue(),
      ),
      dtmf: fc.oneof(
        fc.record({ digit: fc.oneof(fc.string(), fc.jsonValue()), duration: fc.jsonValue() }),
        fc.jsonValue(),
      ),
      mark: fc.oneof(fc.record({ name: fc.oneof(fc.string(), fc.jsonValue()) }), fc.jsonValue()),
      stop: fc.jsonValue(),
    },
    { requiredKeys: ['event'] },
  );
  const limits = fc.record(
    { maxPayloadChars: fc.nat(200), maxFieldChars: fc.nat(300), maxCustomParameters: fc.nat(10) },
    { requiredKeys: [] },
  );

  it('for arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json()), (text) => {
        onlyTyped(() => parseExotelEvent(text));
        onlyTyped(() => parseBotEvent(text));
        onlyTyped(() => decodePcm(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('for arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        onlyTyped(() => parseExotelEvent(text));
        onlyTyped(() => parseBotEvent(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('for objects shaped like Exotel’s events, under any limits', () => {
    fc.assert(
      fc.property(shaped, limits, (value, lim) => {
        const text = JSON.stringify(value);
        onlyTyped(() => parseExotelEvent(text, lim));
        onlyTyped(() => parseBotEvent(text));
        const ev = (() => {
          try {
            return parseExotelEvent(text, lim);
          } catch {
            return undefined; // a refusal: checked above to be typed
          }
        })();
        if (ev?.event === 'media') onlyTyped(() => decodePcm(ev.payload));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodePcm either decodes whole samples or refuses with bad-payload', () => {
    fc.assert(
      fc.property(fc.oneof(fc.base64String(), fc.string()), (text) => {
        try {
          const samples = decodePcm(text);
          expect(samples.length * 2).toBe(Buffer.from(text, 'base64').length);
        } catch (err) {
          expect(err).toBeInstanceOf(StreamProtocolError);
          expect((err as StreamProtocolError).reason).toBe('bad-payload');
        }
      }),
      { numRuns: 1000 },
    );
  });
});
