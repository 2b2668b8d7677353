import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  AudioFrameBufferInfo,
  AudioFrameReceived,
  AudioStreamEOS,
  AudioStreamEvent,
  CaptureAudioFrameCallback,
  FfiEvent,
  FfiOwnedHandle,
  LogBatch,
  OwnedAudioFrameBuffer,
  RoomEvent,
} from '@livekit/rtc-ffi-bindings';
import { decodeFfiMediaEvent, newFfiMediaEvent } from '../../src/livekit/ffi-wire.js';

interface FrameFields {
  stream: bigint;
  frame: bigint;
  ptr: bigint;
  channels: number;
  rate: number;
  samples: number;
}

function frameEvent(f: FrameFields): Uint8Array {
  return new FfiEvent({
    message: {
      case: 'audioStreamEvent',
      value: new AudioStreamEvent({
        streamHandle: f.stream,
        message: {
          case: 'frameReceived',
          value: new AudioFrameReceived({
            frame: new OwnedAudioFrameBuffer({
              handle: new FfiOwnedHandle({ id: f.frame }),
              info: new AudioFrameBufferInfo({
                dataPtr: f.ptr,
                numChannels: f.channels,
                sampleRate: f.rate,
                samplesPerChannel: f.samples,
              }),
            }),
          }),
        },
      }),
    },
  }).toBinary();
}

function captureEvent(asyncId: bigint, error?: string): Uint8Array {
  return new FfiEvent({
    message: {
      case: 'captureAudioFrame',
      value: new CaptureAudioFrameCallback({ asyncId, ...(error === undefined ? {} : { error }) }),
    },
  }).toBinary();
}

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const safe = fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

describe('decodeFfiMediaEvent: the two per-frame FFI events, read by hand', () => {
  it('reads a received frame exactly as the generated decoder does', () => {
    fc.assert(
      fc.property(safe, u64, u64, u32, u32, u32, (stream, frame, ptr, channels, rate, samples) => {
        const out = newFfiMediaEvent();
        const bytes = frameEvent({ stream, frame, ptr, channels, rate, samples });
        expect(decodeFfiMediaEvent(bytes, out)).toBe(true);
        const ref = FfiEvent.fromBinary(bytes).message;
        if (ref.case !== 'audioStreamEvent' || ref.value.message.case !== 'frameReceived')
          throw new Error('ref');
        const owned = ref.value.message.value.frame!;
        expect(out.kind).toBe('frame');
        expect(BigInt(out.id)).toBe(ref.value.streamHandle);
        expect(out.frameHandle).toBe(owned.handle!.id);
        expect(out.dataPtr).toBe(owned.info!.dataPtr);
        expect(out.numChannels).toBe(owned.info!.numChannels);
        expect(out.sampleRate).toBe(owned.info!.sampleRate);
        expect(out.samplesPerChannel).toBe(owned.info!.samplesPerChannel);
      }),
    );
  });

  it('reads a capture completion, its async id and whether it failed', () => {
    fc.assert(
      fc.property(safe, fc.option(fc.string(), { nil: undefined }), (id, error) => {
        const out = newFfiMediaEvent();
        expect(decodeFfiMediaEvent(captureEvent(id, error), out)).toBe(true);
        expect(out.kind).toBe('capture');
        expect(BigInt(out.id)).toBe(id);
        expect(out.captureError).toBe(error !== undefined && error !== '');
      }),
    );
  });

  it('declines every other event, ids beyond 2^53, and anything unexpected (the generated decoder takes those)', () => {
    const out = newFfiMediaEvent();
    const frame = frameEvent({
      stream: 7n,
      frame: 9n,
      ptr: 1n << 40n,
      channels: 1,
      rate: 8000,
      samples: 160,
    });
    const declined = [
      new FfiEvent({
        message: {
          case: 'audioStreamEvent',
          value: new AudioStreamEvent({
            streamHandle: 7n,
            message: { case: 'eos', value: new AudioStreamEOS() },
          }),
        },
      }).toBinary(),
      new FfiEvent({ message: { case: 'roomEvent', value: new RoomEvent({ roomHandle: 1n }) } }).toBinary(),
      new FfiEvent({ message: { case: 'logs', value: new LogBatch({}) } }).toBinary(),
      captureEvent(1n << 53n),
      frameEvent({ stream: 1n << 60n, frame: 1n, ptr: 1n, channels: 1, rate: 8000, samples: 160 }),
      // an unknown field appended inside the event (same length prefix fixed up)
      new Uint8Array([frame[0]!, frame[1]! + 2, ...frame.subarray(2), 0x38, 0x01]),
      // trailing bytes after the one oneof field
      new Uint8Array([...frame, 0x08, 0x01]),
      new Uint8Array(0),
    ];
    for (const bytes of declined) expect(decodeFfiMediaEvent(bytes, out)).toBe(false);
    expect(decodeFfiMediaEvent(frame, out)).toBe(true);
  });

  it('declines every truncation and never throws on random bytes', () => {
    const out = newFfiMediaEvent();
    const frame = frameEvent({
      stream: 300n,
      frame: 301n,
      ptr: 0x7fff_1234_5678n,
      channels: 1,
      rate: 48000,
      samples: 480,
    });
    const capture = captureEvent(123_456n, 'no');
    for (const whole of [frame, capture]) {
      for (let cut = 0; cut < whole.length; cut++)
        expect(decodeFfiMediaEvent(whole.subarray(0, cut), out)).toBe(false);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(typeof decodeFfiMediaEvent(bytes, out)).toBe('boolean');
      }),
    );
  });
});
