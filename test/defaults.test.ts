/**
 * The library's default limits, asserted one by one: a default that changes silently (a
 * bigger SIP message, a longer timeout, a deeper jitter buffer, a looser AgentStream bound)
 * fails here and has to be changed on purpose, with its CHANGELOG line. Values are read
 * through the exported constants, or observed through a public API where no constant is
 * exported. The listener's connection limit (64) is asserted end to end in
 * test/integration/bridge-faults-signalling.test.ts (70 connections, 6 refused).
 */
import { describe, expect, it } from 'vitest';
import { parseExotelEvent } from '../src/agentstream/protocol.js';
import { EXOTEL_DEFAULTS } from '../src/config.js';
import { JitterBuffer } from '../src/rtp/jitter.js';
import { DEFAULT_RTP_PORT_RANGE } from '../src/rtp/port.js';
import { DEFAULT_MEDIA_TIMEOUT_MS, DEFAULT_NO_MEDIA_TIMEOUT_MS } from '../src/rtp/session.js';
import { MAX_DTMF_INFO_BODY, MAX_DTMF_INFO_DURATION_MS } from '../src/sip/dtmf-info.js';
import { MAX_CSEQ } from '../src/sip/headers.js';
import { DEFAULT_RINGING_TIMEOUT_MS } from '../src/sip/invite-client.js';
import { MAX_HEADER_VALUE_LENGTH } from '../src/sip/phone.js';
import { DEFAULT_REFER_TIMEOUT_MS } from '../src/sip/refer.js';
import { GLARE_MAX_MS } from '../src/sip/reinvite.js';
import { MAX_SIPFRAG_STATUS_LINE } from '../src/sip/sipfrag.js';
import { DEFAULT_SIP_TIMERS } from '../src/sip/timers.js';
import { DEFAULT_MAX_SERVER_TRANSACTIONS } from '../src/sip/transaction-layer.js';
import { DEFAULT_KEEPALIVE_PONG_TIMEOUT_MS } from '../src/sip/transport-stream.js';
import {
  DEFAULT_MAX_SIP_MESSAGE_BYTES,
  DEFAULT_SIP_INBOUND_IDLE_TIMEOUT_MS,
  DEFAULT_SIP_MESSAGE_TIMEOUT_MS,
} from '../src/sip/transport.js';

describe('default limits: SIP', () => {
  it('message size, slow-loris and idle cut-offs, server transactions', () => {
    expect(DEFAULT_MAX_SIP_MESSAGE_BYTES).toBe(65_535);
    expect(DEFAULT_SIP_MESSAGE_TIMEOUT_MS).toBe(10_000);
    expect(DEFAULT_SIP_INBOUND_IDLE_TIMEOUT_MS).toBe(300_000);
    expect(DEFAULT_MAX_SERVER_TRANSACTIONS).toBe(1024);
    expect(DEFAULT_KEEPALIVE_PONG_TIMEOUT_MS).toBe(10_000);
  });

  it('RFC 3261 timers and the call timeouts', () => {
    expect(DEFAULT_SIP_TIMERS).toEqual({ t1: 500, t2: 4000, t4: 5000 });
    expect(Object.isFrozen(DEFAULT_SIP_TIMERS)).toBe(true);
    expect(DEFAULT_RINGING_TIMEOUT_MS).toBe(60_000);
    expect(DEFAULT_REFER_TIMEOUT_MS).toBe(30_000);
    expect(GLARE_MAX_MS).toBe(4000);
  });

  it('bounds on what a peer or a host may put in a message', () => {
    expect(MAX_HEADER_VALUE_LENGTH).toBe(4096);
    expect(MAX_SIPFRAG_STATUS_LINE).toBe(256);
    expect(MAX_DTMF_INFO_BODY).toBe(256);
    expect(MAX_DTMF_INFO_DURATION_MS).toBe(60_000);
    expect(MAX_CSEQ).toBe(2 ** 31 - 1);
  });

  it("Exotel's trunk as documented", () => {
    expect(EXOTEL_DEFAULTS).toMatchObject({ sipHost: 'pstn.in1.exotel.com', sipPort: 5070 });
  });
});

describe('default limits: RTP', () => {
  it('media timeouts (as LiveKit SIP) and the port range', () => {
    expect(DEFAULT_MEDIA_TIMEOUT_MS).toBe(15_000);
    expect(DEFAULT_NO_MEDIA_TIMEOUT_MS).toBe(30_000);
    expect(DEFAULT_RTP_PORT_RANGE).toEqual([10000, 20000]);
  });

  it('the jitter buffer holds at most 200 ms of 20 ms frames (+4 slots of slack)', () => {
    const byDefault = new JitterBuffer();
    expect(byDefault.capacity).toBe(14);
    expect(byDefault.capacity).toBe(
      new JitterBuffer({ maxDelayMs: 200, frameMs: 20, targetDelayMs: 40 }).capacity,
    );
    expect(new JitterBuffer({ maxDelayMs: 400 }).capacity).toBeGreaterThan(byDefault.capacity);
  });
});

describe('default limits: AgentStream messages', () => {
  const media = (payloadChars: number, sid = 'S'): string =>
    JSON.stringify({
      event: 'media',
      stream_sid: sid,
      media: { chunk: 1, timestamp: 0, payload: 'A'.repeat(payloadChars) },
    });
  const start = (params: Record<string, string>, callSid = 'C'): string =>
    JSON.stringify({
      event: 'start',
      start: { stream_sid: 'S', call_sid: callSid, custom_parameters: params },
    });

  it('a media payload of up to 96 KiB characters', () => {
    expect(parseExotelEvent(media(96 * 1024)).event).toBe('media');
    expect(() => parseExotelEvent(media(96 * 1024 + 1))).toThrow(/payload of 98305 characters/);
  });

  it('string fields of up to 256 characters', () => {
    expect(parseExotelEvent(start({}, 'c'.repeat(256))).event).toBe('start');
    expect(() => parseExotelEvent(start({}, 'c'.repeat(257)))).toThrow();
  });

  it('up to 8 custom parameters', () => {
    const eight = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, 'v']));
    expect(parseExotelEvent(start(eight)).event).toBe('start');
    expect(() => parseExotelEvent(start({ ...eight, k8: 'v' }))).toThrow(/more than 8 custom_parameters/);
  });
});
