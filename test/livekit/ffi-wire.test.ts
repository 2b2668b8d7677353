import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  AudioFrameBufferInfo,
  CaptureAudioFrameRequest,
  CaptureAudioFrameResponse,
  FfiRequest,
  FfiResponse,
  DisposeResponse,
} from '@livekit/rtc-ffi-bindings';
import {
  CAPTURE_REQUEST_MAX_BYTES,
  decodeCaptureAudioFrameAsyncId,
  encodeCaptureAudioFrameRequest,
  type CaptureFrameFields,
} from '../../src/livekit/ffi-wire.js';

function generated(f: CaptureFrameFields): Uint8Array {
  return new FfiRequest({
    message: {
      case: 'captureAudioFrame',
      value: new CaptureAudioFrameRequest({
        sourceHandle: f.sourceHandle,
        buffer: new AudioFrameBufferInfo({
          dataPtr: f.dataPtr,
          numChannels: f.numChannels,
          sampleRate: f.sampleRate,
          samplesPerChannel: f.samplesPerChannel,
        }),
      }),
    },
  }).toBinary();
}

function ours(f: CaptureFrameFields): Uint8Array {
  const out = new Uint8Array(CAPTURE_REQUEST_MAX_BYTES);
  return out.slice(0, encodeCaptureAudioFrameRequest(out, f));
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('LiveKit FFI capture request, encoded by hand', () => {
  it('a typical 20 ms frame at 8 kHz is byte for byte what the generated FfiRequest encodes', () => {
    const f = {
      sourceHandle: 7n,
      dataPtr: 0x7f3a_1c00_2a40n,
      numChannels: 1,
      sampleRate: 8000,
      samplesPerChannel: 160,
    };
    // da01 = field 27, length-delimited, 0x14 bytes; 08 07 = source_handle 7; 12 10 = buffer, 16 bytes:
    // 08 <data_ptr varint> 10 01 (mono) 18 c03e (8000 Hz) 20 a001 (160 samples)
    expect(hex(ours(f))).toBe('da01140807121008c0d480e0a1e71f100118c03e20a001');
    expect(hex(ours(f))).toBe(hex(generated(f)));
  });

  it('agrees with the generated encoder at the varint edges (0, 127, 128, 2^32-1, 2^63, 2^64-1)', () => {
    const u64 = [
      0n,
      1n,
      127n,
      128n,
      16383n,
      16384n,
      0xffff_ffffn,
      0x1_0000_0000n,
      1n << 63n,
      (1n << 64n) - 1n,
    ];
    const u32 = [0, 1, 127, 128, 16383, 16384, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1];
    for (const a of u64)
      for (const n of u32) {
        const f = {
          sourceHandle: a,
          dataPtr: (1n << 64n) - 1n - a,
          numChannels: n,
          sampleRate: 48000,
          samplesPerChannel: n,
        };
        expect(hex(ours(f)), `${a} ${n}`).toBe(hex(generated(f)));
      }
  });

  it('agrees with the generated encoder on random fields', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.nat({ max: 2 ** 32 - 1 }),
        fc.nat({ max: 2 ** 32 - 1 }),
        fc.nat({ max: 2 ** 32 - 1 }),
        (sourceHandle, dataPtr, numChannels, sampleRate, samplesPerChannel) => {
          const f = { sourceHandle, dataPtr, numChannels, sampleRate, samplesPerChannel };
          expect(hex(ours(f))).toBe(hex(generated(f)));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses values that are not uint32/uint64, and a buffer that is too small', () => {
    const ok = { sourceHandle: 1n, dataPtr: 2n, numChannels: 1, sampleRate: 8000, samplesPerChannel: 160 };
    expect(() => ours({ ...ok, sourceHandle: -1n })).toThrow(RangeError);
    expect(() => ours({ ...ok, dataPtr: 1n << 64n })).toThrow(RangeError);
    expect(() => ours({ ...ok, sampleRate: 2 ** 32 })).toThrow(RangeError);
    expect(() => ours({ ...ok, numChannels: 1.5 })).toThrow(RangeError);
    expect(() => encodeCaptureAudioFrameRequest(new Uint8Array(10), ok)).toThrow(RangeError);
  });
});

describe('LiveKit FFI capture response, decoded by hand', () => {
  const response = (asyncId: bigint) =>
    new FfiResponse({
      message: { case: 'captureAudioFrame', value: new CaptureAudioFrameResponse({ asyncId }) },
    }).toBinary();

  it('reads the async id the generated encoder wrote, up to 2^64-1', () => {
    for (const id of [0n, 1n, 127n, 128n, 300n, 0xffff_ffffn, 0x1_0000_0000n, 1n << 63n, (1n << 64n) - 1n])
      expect(decodeCaptureAudioFrameAsyncId(response(id))).toBe(id);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (id) => {
        expect(decodeCaptureAudioFrameAsyncId(response(id))).toBe(id);
      }),
    );
  });

  it('returns undefined for another response, a truncated one or trailing bytes', () => {
    const other = new FfiResponse({
      message: { case: 'dispose', value: new DisposeResponse({}) },
    }).toBinary();
    expect(decodeCaptureAudioFrameAsyncId(other)).toBeUndefined();
    const ok = response(123456789n);
    expect(decodeCaptureAudioFrameAsyncId(ok.subarray(0, ok.length - 1))).toBeUndefined();
    expect(decodeCaptureAudioFrameAsyncId(new Uint8Array([...ok, 0]))).toBeUndefined();
    expect(decodeCaptureAudioFrameAsyncId(new Uint8Array(0))).toBeUndefined();
    expect(decodeCaptureAudioFrameAsyncId(new Uint8Array(12).fill(0xff))).toBeUndefined();
  });
});

describe('the rtc-node version the direct FFI path was written against', () => {
  it('is the installed one (SDK version reported when the native layer is re-initialised)', async () => {
    const { RTC_NODE_SDK_VERSION } = await import('../../src/livekit/ffi-media.js');
    const { readFileSync } = await import('node:fs');
    const { createRequire } = await import('node:module');
    const { dirname, join } = await import('node:path');
    const entry = createRequire(import.meta.url).resolve('@livekit/rtc-node');
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(pkg.version).toBe(RTC_NODE_SDK_VERSION);
  });
});

describe('native log batches are recognised by their first bytes', () => {
  it('an encoded FfiEvent { logs } is; every other event the bridge sees is not', async () => {
    const { isLogBatch } = await import('../../src/livekit/ffi-media.js');
    const {
      FfiEvent,
      LogBatch,
      LogRecord,
      LogLevel,
      CaptureAudioFrameCallback,
      AudioStreamEvent,
      RoomEvent,
    } = await import('@livekit/rtc-ffi-bindings');
    const logs = new FfiEvent({
      message: {
        case: 'logs',
        value: new LogBatch({
          records: [new LogRecord({ level: LogLevel.LOG_TRACE, target: 'x', message: 'hello' })],
        }),
      },
    }).toBinary();
    expect(isLogBatch(logs)).toBe(true);
    expect(isLogBatch(new FfiEvent({ message: { case: 'logs', value: new LogBatch({}) } }).toBinary())).toBe(
      true,
    );
    const others = [
      new FfiEvent({
        message: { case: 'captureAudioFrame', value: new CaptureAudioFrameCallback({ asyncId: 18n }) },
      }),
      new FfiEvent({
        message: { case: 'audioStreamEvent', value: new AudioStreamEvent({ streamHandle: 146n }) },
      }),
      new FfiEvent({ message: { case: 'roomEvent', value: new RoomEvent({ roomHandle: 1n }) } }),
    ];
    for (const ev of others) expect(isLogBatch(ev.toBinary())).toBe(false);
    expect(isLogBatch(new Uint8Array([0x92]))).toBe(false);
  });
});
