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

/*
 * Decoding. One varint reader over module state (no closure, no allocation): `pos` is the
 * read position, `lo`/`hi` the two 32-bit halves of the last varint read.
 */
let pos = 0;
let lo = 0;
let hi = 0;

/** Reads a varint at `pos` (before `end`) into `lo`/`hi`; false when truncated or over 10 bytes. */
function readVarint(b: Uint8Array, end: number): boolean {
  lo = 0;
  hi = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return false;
    const x = b[pos++]!;
    if (i < 4) lo |= (x & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (x & 0x0f) << 28;
      hi |= (x & 0x7f) >> 4;
    } else hi |= (x & 0x7f) << (7 * i - 32);
    if ((x & 0x80) === 0) {
      lo >>>= 0;
      hi >>>= 0;
      return true;
    }
  }
  return false;
}

/** The last varint as a number, or -1 when it is 2^53 or more (not exact as a number). */
function varintNumber(): number {
  return hi < 0x20_0000 ? hi * TWO_POW_32 + lo : -1;
}

/** The last varint as a bigint. */
function varintBigInt(): bigint {
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/** Reads a length prefix at `pos`; the end of the field, or -1 when it overruns `end`. */
function readLengthEnd(b: Uint8Array, end: number): number {
  if (!readVarint(b, end) || hi !== 0 || lo > end - pos) return -1;
  return pos + lo;
}

/**
 * Reads the `async_id` of `FfiResponse { capture_audio_frame: { async_id } }`. Returns
 * `undefined` for anything else (another response, unknown fields, truncation), so the
 * caller can fall back to the generated decoder.
 */
export function decodeCaptureAudioFrameAsyncId(bytes: Uint8Array): bigint | undefined {
  const n = bytes.length;
  pos = 0;
  if (!readVarint(bytes, n) || hi !== 0 || lo !== ((FFI_CAPTURE_AUDIO_FRAME_FIELD << 3) | 2))
    return undefined;
  if (readLengthEnd(bytes, n) !== n) return undefined;
  if (bytes[pos++] !== ((1 << 3) | 0)) return undefined;
  if (!readVarint(bytes, n) || pos !== n) return undefined;
  return varintBigInt();
}

/** Field numbers in `FfiEvent` of the two per-frame events. */
export const FFI_EVENT_AUDIO_STREAM_FIELD = 4;
export const FFI_EVENT_CAPTURE_AUDIO_FRAME_FIELD = 13;

/**
 * The fields of one per-frame FFI event, read by hand ({@link decodeFfiMediaEvent}); one
 * object is reused for every event.
 *   FfiEvent { oneof message { AudioStreamEvent audio_stream_event = 4;
 *                              CaptureAudioFrameCallback capture_audio_frame = 13; … } }
 *   AudioStreamEvent { required uint64 stream_handle = 1;
 *                      oneof message { AudioFrameReceived frame_received = 2; AudioStreamEOS eos = 3; } }
 *   AudioFrameReceived { required OwnedAudioFrameBuffer frame = 1; }
 *   OwnedAudioFrameBuffer { required FfiOwnedHandle handle = 1; required AudioFrameBufferInfo info = 2; }
 *   FfiOwnedHandle { required uint64 id = 1; }
 *   CaptureAudioFrameCallback { required uint64 async_id = 1; optional string error = 2; }
 */
export interface FfiMediaEvent {
  /** `frame`: an `AudioStreamEvent { frame_received }`; `capture`: a `CaptureAudioFrameCallback`. */
  kind: 'frame' | 'capture';
  /** frame: the stream handle; capture: the async id (exact: larger values are not decoded). */
  id: number;
  /** frame: the owned frame buffer's handle (to be disposed). */
  frameHandle: bigint;
  /** frame: the address of the samples. */
  dataPtr: bigint;
  numChannels: number;
  sampleRate: number;
  samplesPerChannel: number;
  /** capture: a non-empty `error` was set. */
  captureError: boolean;
}

/** A fresh {@link FfiMediaEvent} to decode into. */
export function newFfiMediaEvent(): FfiMediaEvent {
  return {
    kind: 'frame',
    id: 0,
    frameHandle: 0n,
    dataPtr: 0n,
    numChannels: 0,
    sampleRate: 0,
    samplesPerChannel: 0,
    captureError: false,
  };
}

const SEEN_DATA_PTR = 1;
const SEEN_CHANNELS = 2;
const SEEN_RATE = 4;
const SEEN_SAMPLES = 8;

/** AudioFrameBufferInfo in [pos, end): all four fields, varints, nothing else. */
function readBufferInfo(b: Uint8Array, end: number, out: FfiMediaEvent): boolean {
  let seen = 0;
  while (pos < end) {
    const tag = b[pos++]!;
    if ((tag & 7) !== 0 || tag > 0x7f || !readVarint(b, end)) return false;
    const field = tag >> 3;
    if (field === 1) {
      out.dataPtr = varintBigInt();
      seen |= SEEN_DATA_PTR;
    } else if (field >= 2 && field <= 4 && hi === 0) {
      if (field === 2) out.numChannels = lo;
      else if (field === 3) out.sampleRate = lo;
      else out.samplesPerChannel = lo;
      seen |= field === 2 ? SEEN_CHANNELS : field === 3 ? SEEN_RATE : SEEN_SAMPLES;
    } else return false;
  }
  return pos === end && seen === (SEEN_DATA_PTR | SEEN_CHANNELS | SEEN_RATE | SEEN_SAMPLES);
}

/** AudioFrameReceived in [pos, end): frame { handle { id }, info }. */
function readFrameReceived(b: Uint8Array, end: number, out: FfiMediaEvent): boolean {
  if (pos >= end || b[pos++] !== ((1 << 3) | 2)) return false;
  const frameEnd = readLengthEnd(b, end);
  if (frameEnd !== end) return false;
  let handle = false;
  let info = false;
  while (pos < frameEnd) {
    const tag = b[pos++]!;
    const fieldEnd = readLengthEnd(b, frameEnd);
    if (fieldEnd < 0) return false;
    if (tag === ((1 << 3) | 2)) {
      // FfiOwnedHandle { id = 1 }
      if (b[pos++] !== ((1 << 3) | 0) || !readVarint(b, fieldEnd) || pos !== fieldEnd) return false;
      out.frameHandle = varintBigInt();
      handle = true;
    } else if (tag === ((2 << 3) | 2)) {
      if (!readBufferInfo(b, fieldEnd, out)) return false;
      info = true;
    } else return false;
  }
  return handle && info;
}

/**
 * Decodes an encoded `FfiEvent` when it is one of the two per-frame events the bridge
 * routes (a frame received on an audio stream, a capture completed) and holds nothing
 * unexpected; returns false for every other event and any surprise (unknown field, other
 * wire type, truncation, a handle or id of 2^53 or more), so the caller falls back to the
 * generated decoder. Allocates only the two bigints of a frame.
 */
export function decodeFfiMediaEvent(bytes: Uint8Array, out: FfiMediaEvent): boolean {
  const n = bytes.length;
  pos = 0;
  if (n < 2) return false;
  const tag = bytes[pos++]!;
  const end = readLengthEnd(bytes, n);
  if (end !== n) return false;
  if (tag === ((FFI_EVENT_AUDIO_STREAM_FIELD << 3) | 2)) {
    let handle = -1;
    let frame = false;
    while (pos < end) {
      const t = bytes[pos++]!;
      if (t === ((1 << 3) | 0)) {
        if (!readVarint(bytes, end)) return false;
        handle = varintNumber();
        if (handle < 0) return false;
      } else if (t === ((2 << 3) | 2)) {
        const fieldEnd = readLengthEnd(bytes, end);
        if (fieldEnd < 0 || !readFrameReceived(bytes, fieldEnd, out)) return false;
        frame = true;
      } else return false; // eos, or anything else: the generated decoder
    }
    if (handle < 0 || !frame) return false;
    out.kind = 'frame';
    out.id = handle;
    return true;
  }
  if (tag === ((FFI_EVENT_CAPTURE_AUDIO_FRAME_FIELD << 3) | 2)) {
    let id = -1;
    out.captureError = false;
    while (pos < end) {
      const t = bytes[pos++]!;
      if (t === ((1 << 3) | 0)) {
        if (!readVarint(bytes, end)) return false;
        id = varintNumber();
        if (id < 0) return false;
      } else if (t === ((2 << 3) | 2)) {
        const fieldEnd = readLengthEnd(bytes, end);
        if (fieldEnd < 0) return false;
        out.captureError = fieldEnd > pos;
        pos = fieldEnd;
      } else return false;
    }
    if (id < 0) return false;
    out.kind = 'capture';
    out.id = id;
    return true;
  }
  return false;
}
