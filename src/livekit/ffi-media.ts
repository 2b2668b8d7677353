/**
 * The per-frame audio path to `@livekit/rtc-node`'s native layer, without its process-wide
 * event fan-out.
 *
 * rtc-node hands every native event to every listener of one process-wide emitter: each
 * `Room` (which takes an async lock for every event, its own or not, and buffers them all
 * while it connects), each `AudioStream`, and one waiter per `AudioSource.captureFrame()`
 * in flight. With N calls in a process that is N × (50 captured + 50 received frames per
 * second) events, each visited by about 3N listeners: the cost grows with N², and at 100
 * calls one process ran its heap out of memory.
 *
 * This module sends and receives the two per-frame messages itself and takes exactly those
 * events out of the broadcast (`FfiMediaRouter`): a frame received on one of *our* audio
 * streams goes to that stream's reader only, and the completion of one of *our* captures
 * to that capture only, found by handle or async id in a map. Every other event (room
 * events, RPC, everything of any other rtc-node object in the host process) is passed on
 * to rtc-node untouched. Per frame: no promise, no timer, no listener added or removed, and
 * the capture request is encoded by hand into a reused buffer (`ffi-wire.ts`). The two
 * per-frame events are also read by hand from their bytes, before rtc-node's protobuf
 * decoder (`routeRaw`; about 0.4 µs an event instead of 4.5–6 µs and a handful of objects);
 * whatever that reader declines is decoded and routed as before.
 *
 * Native log records. rtc-node 1.1.0 initialises the native layer with log capture on,
 * which makes every Rust log record, down to trace level, an FFI event — with 20 calls in
 * one process about 13 000 a second while they connect and 4 000–6 000 a second while they
 * are held — and then never reads them: each was protobuf-decoded and handed to every
 * `Room`'s lock for nothing (that process saturated a core, one room's lock queue reached
 * 180 000 entries and the heap 316 MiB; `npm run ffi-diag -- --rtc-node`). The router
 * re-initialises the native layer with a
 * callback of its own that drops a `logs` event by its first bytes, before decoding, and
 * decodes and emits everything else exactly as rtc-node's callback did; and it turns log
 * capture off when that is safe, which saves the records being made at all (at 20 calls
 * about a tenth of a core and 200 MiB of RSS). With capture off the records go to the Rust
 * `env_logger` on stderr, whose error lines can carry a refused access token verbatim
 * (`401 Unauthorized - invalid token: eyJ…`), so capture goes off only when that logger is
 * known to be silent — the bridge initialised the native layer itself with `RUST_LOG=off`
 * for that moment (`quietNativeInit`) — or when the host set `RUST_LOG` and so asked for
 * the records on stderr.
 *
 * It relies on three things of rtc-node 1.1.0 (pinned exactly; tests check them): the FFI
 * client is the process-wide `globalThis._ffiClientInstance` (shared by the ESM and CJS
 * copies of rtc-node), it delivers events with `emit('ffi_event', event)`, and it ignores
 * `logs` events. When the client is missing, `FfiMediaRouter.get()` returns `undefined`
 * and the participant falls back to rtc-node's own `AudioSource.captureFrame()` and
 * `AudioStream`.
 */
import {
  AudioStreamType,
  FfiEvent,
  FfiHandle,
  FfiRequest,
  FfiResponse,
  NewAudioStreamRequest,
  livekitCopyBuffer,
  livekitFfiRequest,
  livekitInitialize,
  livekitRetrievePtr,
  type AudioStreamEvent,
  type NewAudioStreamResponse,
} from '@livekit/rtc-ffi-bindings';
import {
  CAPTURE_REQUEST_MAX_BYTES,
  decodeCaptureAudioFrameAsyncId,
  decodeFfiMediaEvent,
  encodeCaptureAudioFrameRequest,
  newFfiMediaEvent,
  type CaptureFrameFields,
  type FfiMediaEvent,
} from './ffi-wire.js';
import { LiveKitError } from '../errors.js';

const FFI_EVENT = 'ffi_event';
/** The SDK version rtc-node 1.1.0 reports to the server (its `SDK_VERSION`; a test compares). */
export const RTC_NODE_SDK_VERSION = '1.1.0';

interface FfiEmitter {
  emit(event: string | symbol, ...args: unknown[]): boolean;
  listenerCount(event: string | symbol): number;
}

/** A stream's reader: every event of the stream, and its frames read by hand (the usual way). */
interface StreamRoute {
  event(ev: AudioStreamEvent): void;
  frame(ev: FfiMediaEvent): void;
}
/** A capture's completion: whether the native side reported an error. */
type CaptureRoute = (failed: boolean) => void;

const ROUTER = Symbol.for('exotel-livekit-bridge.ffi-media-router');

/** True once the native layer was initialised by `quietNativeInit` with `RUST_LOG=off`. */
let nativeLoggerSilent = false;

/**
 * Runs `start` — the call that first initialises rtc-node's native layer, such as
 * `room.connect()` — with `RUST_LOG=off`, so that the native `env_logger` is built silent,
 * then puts `RUST_LOG` back as it was (unset). Does nothing special when the native layer
 * already exists or the host set `RUST_LOG` itself.
 */
export function quietNativeInit<T>(start: () => T): T {
  const g = globalThis as unknown as Record<string, unknown>;
  if (g._ffiClientInstance !== undefined || process.env.RUST_LOG !== undefined) return start();
  process.env.RUST_LOG = 'off';
  try {
    const out = start();
    nativeLoggerSilent = g._ffiClientInstance !== undefined;
    return out;
  } finally {
    delete process.env.RUST_LOG;
  }
}

/** Field number of `logs` (a `LogBatch`) in `FfiEvent`. */
export const FFI_EVENT_LOGS_FIELD = 18;
const LOGS_TAG = (FFI_EVENT_LOGS_FIELD << 3) | 2; // length-delimited: 146, varint 0x92 0x01

/** True for an encoded `FfiEvent { logs }`: its one oneof field, so its tag comes first. */
export function isLogBatch(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === ((LOGS_TAG & 0x7f) | 0x80) && data[1] === LOGS_TAG >> 7;
}

/** Routes the per-frame FFI events of the bridge's own streams and captures. */
export class FfiMediaRouter {
  /** By stream handle and by async id, as numbers (ids of 2^53 or more are not routed). */
  private readonly streams = new Map<number, StreamRoute>();
  private readonly captures = new Map<number, CaptureRoute>();
  /** The one object every per-frame event is decoded into. */
  private readonly ev = newFfiMediaEvent();
  /** Events delivered straight to their stream or capture (never broadcast). */
  routed = 0;
  /** Of `routed`, the events read by hand, without the generated decoder. */
  routedRaw = 0;
  /** Native log batches dropped before decoding (rtc-node 1.1.0 ignores them). */
  droppedLogEvents = 0;
  /** Whether native log records are still captured (and dropped) rather than not made. */
  captureLogs = true;

  private constructor() {}

  /** The process's router if one is installed (never installs it). */
  static peek(): FfiMediaRouter | undefined {
    const r = (globalThis as unknown as Record<symbol, unknown>)[ROUTER];
    return r instanceof FfiMediaRouter ? r : undefined;
  }

  /**
   * The process's router, installed on rtc-node's FFI client the first time; `undefined`
   * when the client does not exist yet or does not look like rtc-node 1.1.0's.
   */
  static get(): FfiMediaRouter | undefined {
    const g = globalThis as unknown as Record<string | symbol, unknown>;
    const existing = g[ROUTER];
    if (existing instanceof FfiMediaRouter) return existing;
    const client = g._ffiClientInstance as FfiEmitter | undefined;
    if (
      client === undefined ||
      client === null ||
      typeof client.emit !== 'function' ||
      typeof client.listenerCount !== 'function'
    )
      return undefined;
    const router = new FfiMediaRouter();
    const original = client.emit;
    client.emit = function routedEmit(this: FfiEmitter, event: string | symbol, ...args: unknown[]): boolean {
      if (event === FFI_EVENT && router.route(args[0] as FfiEvent)) return true;
      return original.call(this, event, ...args);
    };
    g[ROUTER] = router;
    // rtc-node's callback (decode, emit on its client), except that log batches are dropped
    // undecoded; capture off only where stderr is known to stay clean (see above).
    router.captureLogs = !(nativeLoggerSilent || process.env.RUST_LOG !== undefined);
    livekitInitialize(
      (data: Uint8Array) => {
        if (isLogBatch(data)) {
          router.droppedLogEvents++;
          return;
        }
        if (router.routeRaw(data)) return;
        client.emit(FFI_EVENT, FfiEvent.fromBinary(data));
      },
      router.captureLogs,
      RTC_NODE_SDK_VERSION,
    );
    return router;
  }

  /** Streams and captures currently routed (for tests and leak checks). */
  get size(): { streams: number; captures: number } {
    return { streams: this.streams.size, captures: this.captures.size };
  }

  /**
   * The usual way in: an encoded event that is a frame of one of our streams or the
   * completion of one of our captures is read by hand and delivered, without the generated
   * decoder or any allocation but the frame's two bigints. Returns false for everything else
   * (decoded and emitted as rtc-node would).
   * @internal
   */
  routeRaw(data: Uint8Array): boolean {
    const ev = this.ev;
    if (!decodeFfiMediaEvent(data, ev)) return false;
    if (ev.kind === 'frame') {
      const r = this.streams.get(ev.id);
      if (r === undefined) return false;
      this.routed++;
      this.routedRaw++;
      r.frame(ev);
      return true;
    }
    const r = this.captures.get(ev.id);
    if (r === undefined) return false;
    this.captures.delete(ev.id);
    this.routed++;
    this.routedRaw++;
    r(ev.captureError);
    return true;
  }

  /** Returns true when the (decoded) event was one of ours and has been delivered. */
  private route(ev: FfiEvent): boolean {
    const m = ev.message;
    if (m.case === 'audioStreamEvent') {
      const h = m.value.streamHandle;
      const r = h === undefined ? undefined : this.streams.get(Number(h));
      if (r === undefined) return false;
      this.routed++;
      r.event(m.value);
      return true;
    }
    if (m.case === 'captureAudioFrame') {
      const id = m.value.asyncId;
      const r = id === undefined ? undefined : this.captures.get(Number(id));
      if (r === undefined) return false;
      this.captures.delete(Number(id));
      this.routed++;
      r(Boolean(m.value.error));
      return true;
    }
    return false;
  }

  /** @internal */
  addStream(handle: number, route: StreamRoute): void {
    this.streams.set(handle, route);
  }

  /** @internal */
  removeStream(handle: number): void {
    this.streams.delete(handle);
  }

  /** @internal */
  awaitCapture(asyncId: number, route: CaptureRoute): void {
    this.captures.set(asyncId, route);
  }

  /** @internal */
  forgetCapture(asyncId: number): void {
    this.captures.delete(asyncId);
  }
}

function request<T>(req: ConstructorParameters<typeof FfiRequest>[0]): T {
  const bytes = livekitFfiRequest(new FfiRequest(req).toBinary());
  return FfiResponse.fromBinary(bytes).message.value as T;
}

/** Counters of a `NativeAudioCapture`. */
export interface NativeCaptureStats {
  /** Frames handed to the native source. */
  captured: number;
  /** Frames whose request failed (not sent). */
  failed: number;
  /** Frames not sent because every buffer was still in flight. */
  dropped: number;
  /** Frames sent that the native side then reported as failed. */
  rejected: number;
}

const POOL = 8;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Feeds PCM frames into a native audio source (the handle of an rtc-node `AudioSource`),
 * one FFI request per frame, its completion routed back by async id.
 *
 * Each frame is copied into one of a few preallocated buffers that stays untouched until
 * the native side has confirmed the capture (the FFI contract: the data must stay valid
 * until the callback), so nothing is allocated per frame.
 */
export class NativeAudioCapture {
  private readonly bufs: Int16Array[] = [];
  /** Byte views of `bufs` (what the native side is given the address of). */
  private readonly views: Uint8Array[] = [];
  /** `req.subarray(0, n)` by length n, made once. */
  private readonly reqViews: Uint8Array[] = [];
  private readonly busy: boolean[] = [];
  /** The async id of each busy slot's capture. */
  private readonly slotIds: number[] = [];
  private readonly callbacks: CaptureRoute[] = [];
  private readonly pending = new Map<number, number>();
  private readonly req = new Uint8Array(CAPTURE_REQUEST_MAX_BYTES);
  private readonly fields: CaptureFrameFields;
  private next = 0;
  private closed = false;
  readonly stats: NativeCaptureStats = { captured: 0, failed: 0, dropped: 0, rejected: 0 };

  constructor(
    private readonly router: FfiMediaRouter,
    sourceHandle: bigint,
    sampleRate: number,
    private readonly frameSamples: number,
  ) {
    this.fields = {
      sourceHandle,
      dataPtr: 0n,
      numChannels: 1,
      sampleRate,
      samplesPerChannel: frameSamples,
    };
    for (let i = 0; i < POOL; i++) {
      // One ArrayBuffer each: the native side is given the address of the whole buffer.
      const ab = new ArrayBuffer(frameSamples * 2);
      this.bufs.push(new Int16Array(ab));
      this.views.push(new Uint8Array(ab));
      this.busy.push(false);
      this.slotIds.push(-1);
      const slot = i;
      this.callbacks.push((failed) => this.done(slot, failed));
    }
  }

  /** Frames sent whose completion has not arrived yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends one mono frame of `frameSamples` samples (other sizes are refused). */
  capture(samples: Int16Array): boolean {
    if (this.closed || samples.length !== this.frameSamples) return false;
    let slot = -1;
    for (let i = 0; i < POOL; i++) {
      const s = (this.next + i) % POOL;
      if (!this.busy[s]) {
        slot = s;
        break;
      }
    }
    if (slot < 0) {
      this.stats.dropped++;
      return false;
    }
    this.next = (slot + 1) % POOL;
    const buf = this.bufs[slot]!;
    buf.set(samples);
    const fields = this.fields;
    fields.dataPtr = livekitRetrievePtr(this.views[slot]!);
    const n = encodeCaptureAudioFrameRequest(this.req, fields);
    let id: bigint | undefined;
    try {
      const res = livekitFfiRequest((this.reqViews[n] ??= this.req.subarray(0, n)));
      id = decodeCaptureAudioFrameAsyncId(res);
      if (id === undefined) {
        const msg = FfiResponse.fromBinary(res).message;
        if (msg.case === 'captureAudioFrame') id = msg.value.asyncId;
      }
    } catch {
      id = undefined; // counted as `failed` below; per frame, so never logged here
    }
    if (id === undefined || id > MAX_SAFE) {
      this.stats.failed++;
      return false;
    }
    const asyncId = Number(id);
    this.busy[slot] = true;
    this.slotIds[slot] = asyncId;
    this.pending.set(asyncId, slot);
    this.router.awaitCapture(asyncId, this.callbacks[slot]!);
    this.stats.captured++;
    return true;
  }

  private done(slot: number, failed: boolean): void {
    this.pending.delete(this.slotIds[slot]!);
    this.busy[slot] = false;
    if (failed) this.stats.rejected++;
  }

  /** Stops capturing; completions still in flight are forgotten. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of this.pending.keys()) this.router.forgetCapture(id);
    this.pending.clear();
  }
}

/** Options of `NativeAudioReader`. */
export interface NativeAudioReaderOptions {
  sampleRate: number;
  numChannels: number;
  frameSizeMs: number;
  /** Each frame's samples (a fresh array, the caller may keep it). */
  onFrame: (samples: Int16Array) => void;
  /** The stream ended on the native side (track gone). Not called after `close()`. */
  onEnd?: () => void;
}

/**
 * Reads a remote audio track through a native audio stream (resampled natively to the
 * requested rate and frame size), its frames routed straight to `onFrame`.
 */
export class NativeAudioReader {
  private readonly handle: FfiHandle;
  private readonly id: number;
  private closed = false;
  frames = 0;

  constructor(
    private readonly router: FfiMediaRouter,
    trackHandle: bigint,
    private readonly opts: NativeAudioReaderOptions,
  ) {
    const res = request<NewAudioStreamResponse>({
      message: {
        case: 'newAudioStream',
        value: new NewAudioStreamRequest({
          type: AudioStreamType.AUDIO_STREAM_NATIVE,
          trackHandle,
          sampleRate: opts.sampleRate,
          numChannels: opts.numChannels,
          frameSizeMs: opts.frameSizeMs,
        }),
      },
    });
    const id = res.stream?.handle?.id;
    if (id === undefined)
      throw new LiveKitError('the native newAudioStream request returned no stream handle');
    this.handle = new FfiHandle(id);
    if (id > MAX_SAFE) {
      this.handle.dispose();
      throw new LiveKitError(`the native audio stream handle ${id} is beyond 2^53`);
    }
    this.id = Number(id);
    router.addStream(this.id, this.route);
  }

  private readonly route = {
    event: (ev: AudioStreamEvent): void => {
      const m = ev.message;
      if (m.case === 'frameReceived') {
        const owned = m.value.frame;
        const info = owned?.info;
        const frameHandle = owned?.handle?.id;
        if (info === undefined || frameHandle === undefined) return;
        this.deliver(frameHandle, info.dataPtr, (info.numChannels ?? 0) * (info.samplesPerChannel ?? 0));
      } else if (m.case === 'eos') {
        const wasOpen = !this.closed;
        this.close();
        if (wasOpen) this.opts.onEnd?.();
      }
    },
    frame: (ev: FfiMediaEvent): void => {
      this.deliver(ev.frameHandle, ev.dataPtr, ev.numChannels * ev.samplesPerChannel);
    },
  };

  /** Copies a received frame's samples out, releases the native frame, hands the copy on. */
  private deliver(frameHandle: bigint, dataPtr: bigint | undefined, samples: number): void {
    let data: Uint8Array | undefined;
    try {
      if (dataPtr !== undefined && samples > 0) data = livekitCopyBuffer(dataPtr, samples * 2);
    } finally {
      new FfiHandle(frameHandle).dispose();
    }
    if (data === undefined || this.closed) return;
    this.frames++;
    this.opts.onFrame(
      data.byteOffset % 2 === 0
        ? new Int16Array(data.buffer, data.byteOffset, samples)
        : new Int16Array(data.slice().buffer, 0, samples),
    );
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Releases the native stream. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.router.removeStream(this.id);
    this.handle.dispose();
  }
}
