/**
 * The two LiveKit FFI messages the bridge sends and reads for every 20 ms audio frame,
 * encoded and decoded by hand (pure, no allocation): a `CaptureAudioFrameRequest` wrapped
 * in an `FfiRequest`, and the `async_id` of its `FfiResponse`. Everything else goes through
 * the generated protobuf classes of `@livekit/rtc-ffi-bindings`; a unit test checks that
 * these bytes are identical to what those classes produce.
 *
 * livekit/rust-sdks `livekit-ffi/protocol/ffi.proto` and `audio_frame.proto` (proto2):
 *   FfiRequest { oneof message { CaptureAudioFrameRequest capture_audio_frame = 27; … } }
 *   CaptureAudioFrameRequest { required uint64 source_handle = 1;
 *                              required AudioFrameBufferInfo buffer = 2;
 *                              optional uint64 request_async_id = 3; }
 *   AudioFrameBufferInfo { required uint64 data_ptr = 1; required uint32 num_channels = 2;
 *                          required uint32 sample_rate = 3; required uint32 samples_per_channel = 4; }
 *   FfiResponse { oneof message { CaptureAudioFrameResponse capture_audio_frame = 27; … } }
 *   CaptureAudioFrameResponse { required uint64 async_id = 1; }
 */

/** Field number of `capture_audio_frame` in both `FfiRequest` and `FfiResponse`. */
export const FFI_CAPTURE_AUDIO_FRAME_FIELD = 27;

/** Bytes a capture request can take at most (uint64 varints are at most 10 bytes). */
export const CAPTURE_REQUEST_MAX_BYTES = 2 + 1 + 1 + (1 + 10) + (1 + 1 + (1 + 10) + 3 * (1 + 5));

const TWO_POW_32 = 0x1_0000_0000;

function uint64Size(v: bigint): number {
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

function uint32Size(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x20_0000 ? 3 : v < 0x1000_0000 ? 4 : 5;
}

function writeUint64(out: Uint8Array, at: number, v: bigint): number {
  // Split once into two 32-bit halves so the loop runs on numbers, not bigints.
  let lo = Number(v & 0xffff_ffffn);
  let hi = Number(v >> 32n);
  while (hi > 0 || lo >= 0x80) {
    out[at++] = (lo & 0x7f) | 0x80;
    lo = (lo >>> 7) | ((hi & 0x7f) << 25);
    lo >>>= 0;
    hi >>>= 7;
  }
  out[at++] = lo;
  return at;
}

function writeUint32(out: Uint8Array, at: number, v: number): number {
  v >>>= 0;
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[at++] = v;
  return at;
}

function checkUint32(v: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= TWO_POW_32) throw new RangeError(`not a uint32: ${v}`);
}

export interface CaptureFrameFields {
  sourceHandle: bigint;
  dataPtr: bigint;
  numChannels: number;
  sampleRate: number;
  samplesPerChannel: number;
}

/**
 * Writes `FfiRequest { capture_audio_frame: … }` into `out` (at least
 * `CAPTURE_REQUEST_MAX_BYTES` long) and returns the number of bytes written.
 */
export function encodeCaptureAudioFrameRequest(out: Uint8Array, f: CaptureFrameFields): number {
  if (out.length < CAPTURE_REQUEST_MAX_BYTES) throw new RangeError('capture request buffer too small');
  checkUint32(f.numChannels);
  checkUint32(f.sampleRate);
  checkUint32(f.samplesPerChannel);
  if (f.sourceHandle < 0n || f.dataPtr < 0n || f.sourceHandle >> 64n !== 0n || f.dataPtr >> 64n !== 0n)
    throw new RangeError('not a uint64');
  const info =
    1 +
    uint64Size(f.dataPtr) +
    1 +
    uint32Size(f.numChannels) +
    1 +
    uint32Size(f.sampleRate) +
    1 +
    uint32Size(f.samplesPerChannel);
  const inner = 1 + uint64Size(f.sourceHandle) + 1 + uint32Size(info) + info;
  let at = 0;
  at = writeUint32(out, at, (FFI_CAPTURE_AUDIO_FRAME_FIELD << 3) | 2);
  at = writeUint32(out, at, inner);
  out[at++] = (1 << 3) | 0; // source_handle, varint
  at = writeUint64(out, at, f.sourceHandle);
  out[at++] = (2 << 3) | 2; // buffer, length-delimited
  at = writeUint32(out, at, info);
  out[at++] = (1 << 3) | 0; // data_ptr
  at = writeUint64(out, at, f.dataPtr);
  out[at++] = (2 << 3) | 0; // num_channels
  at = writeUint32(out, at, f.numChannels);
  out[at++] = (3 << 3) | 0; // sample_rate
  at = writeUint32(out, at, f.sampleRate);
  out[at++] = (4 << 3) | 0; // samples_per_channel
  at = writeUint32(out, at, f.samplesPerChannel);
  return at;
}

/**
 * Reads the `async_id` of `FfiResponse { capture_audio_frame: { async_id } }`. Returns
 * `undefined` for anything else (another response, unknown fields, truncation), so the
 * caller can fall back to the generated decoder.
 */
export function decodeCaptureAudioFrameAsyncId(bytes: Uint8Array): bigint | undefined {
  let at = 0;
  const readVarint = (): bigint | undefined => {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (at >= bytes.length) return undefined;
      const b = bytes[at++]!;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      if ((b & 0x80) === 0) return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    }
    return undefined;
  };
  const tag = readVarint();
  if (tag !== BigInt((FFI_CAPTURE_AUDIO_FRAME_FIELD << 3) | 2)) return undefined;
  const len = readVarint();
  if (len === undefined || Number(len) !== bytes.length - at) return undefined;
  if (bytes[at++] !== ((1 << 3) | 0)) return undefined;
  const id = readVarint();
  return at === bytes.length ? id : undefined;
}
