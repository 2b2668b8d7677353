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
 * the capture request is encoded by hand into a reused buffer (`ffi-wire.ts`).
 *
 * Native log records. rtc-node 1.1.0 initialises the native layer with log capture on,
 * which sets the Rust log level to Trace and turns every log record into an FFI event —
 * about 30 000 a second while a few dozen participants connect — and then never reads
 * them: each was protobuf-decoded and handed to every `Room`'s lock for nothing (with 20
 * calls connecting, one room's lock queue reached 100 000 entries and the heap 800 MB).
 * The router re-initialises the native layer with the same event callback and log capture
 * off, so native logs go to the Rust `env_logger` on stderr instead (silent unless
 * `RUST_LOG` is set).
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
  type CaptureAudioFrameCallback,
  type NewAudioStreamResponse,
} from '@livekit/rtc-ffi-bindings';
import {
  CAPTURE_REQUEST_MAX_BYTES,
  decodeCaptureAudioFrameAsyncId,
  encodeCaptureAudioFrameRequest,
} from './ffi-wire.js';

const FFI_EVENT = 'ffi_event';
/** The SDK version rtc-node 1.1.0 reports to the server (its `SDK_VERSION`; a test compares). */
export const RTC_NODE_SDK_VERSION = '1.1.0';

interface FfiEmitter {
  emit(event: string | symbol, ...args: unknown[]): boolean;
  listenerCount(event: string | symbol): number;
}

type StreamRoute = (ev: AudioStreamEvent) => void;
type CaptureRoute = (cb: CaptureAudioFrameCallback) => void;

const ROUTER = Symbol.for('exotel-livekit-bridge.ffi-media-router');

/** Routes the per-frame FFI events of the bridge's own streams and captures. */
export class FfiMediaRouter {
  private readonly streams = new Map<bigint, StreamRoute>();
  private readonly captures = new Map<bigint, CaptureRoute>();
  /** Events delivered straight to their stream or capture (never broadcast). */
  routed = 0;

  private constructor() {}

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
    // Same callback as rtc-node's (decode, emit on its client), with native log capture off.
    livekitInitialize(
      (data: Uint8Array) => {
        client.emit(FFI_EVENT, FfiEvent.fromBinary(data));
      },
      false,
      RTC_NODE_SDK_VERSION,
    );
    return router;
  }

  /** Streams and captures currently routed (for tests and leak checks). */
  get size(): { streams: number; captures: number } {
    return { streams: this.streams.size, captures: this.captures.size };
  }

  /** Returns true when the event was one of ours and has been delivered. */
  private route(ev: FfiEvent): boolean {
    const m = ev.message;
    if (m.case === 'audioStreamEvent') {
      const h = m.value.streamHandle;
      const r = h === undefined ? undefined : this.streams.get(h);
      if (r === undefined) return false;
      this.routed++;
      r(m.value);
      return true;
    }
    if (m.case === 'captureAudioFrame') {
      const id = m.value.asyncId;
      const r = id === undefined ? undefined : this.captures.get(id);
      if (r === undefined) return false;
      this.captures.delete(id!);
      this.routed++;
      r(m.value);
      return true;
    }
    return false;
  }

  /** @internal */
  addStream(handle: bigint, route: StreamRoute): void {
    this.streams.set(handle, route);
  }

  /** @internal */
  removeStream(handle: bigint): void {
    this.streams.delete(handle);
  }

  /** @internal */
  awaitCapture(asyncId: bigint, route: CaptureRoute): void {
    this.captures.set(asyncId, route);
  }

  /** @internal */
  forgetCapture(asyncId: bigint): void {
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
  /** Frames the native side reported as failed, or that could not be sent. */
  failed: number;
  /** Frames not sent because every buffer was still in flight. */
  dropped: number;
}

const POOL = 8;

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
  private readonly busy: boolean[] = [];
  private readonly callbacks: CaptureRoute[] = [];
  private readonly pending = new Map<bigint, number>();
  private readonly req = new Uint8Array(CAPTURE_REQUEST_MAX_BYTES);
  private next = 0;
  private closed = false;
  readonly stats: NativeCaptureStats = { captured: 0, failed: 0, dropped: 0 };

  constructor(
    private readonly router: FfiMediaRouter,
    private readonly sourceHandle: bigint,
    private readonly sampleRate: number,
    private readonly frameSamples: number,
  ) {
    for (let i = 0; i < POOL; i++) {
      // One ArrayBuffer each: the native side is given the address of the whole buffer.
      this.bufs.push(new Int16Array(new ArrayBuffer(frameSamples * 2)));
      this.busy.push(false);
      const slot = i;
      this.callbacks.push((cb) => this.done(slot, cb));
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
    const n = encodeCaptureAudioFrameRequest(this.req, {
      sourceHandle: this.sourceHandle,
      dataPtr: livekitRetrievePtr(new Uint8Array(buf.buffer)),
      numChannels: 1,
      sampleRate: this.sampleRate,
      samplesPerChannel: this.frameSamples,
    });
    let asyncId: bigint | undefined;
    try {
      const res = livekitFfiRequest(this.req.subarray(0, n));
      asyncId = decodeCaptureAudioFrameAsyncId(res);
      if (asyncId === undefined) {
        const msg = FfiResponse.fromBinary(res).message;
        if (msg.case === 'captureAudioFrame') asyncId = msg.value.asyncId;
      }
    } catch {
      asyncId = undefined;
    }
    if (asyncId === undefined) {
      this.stats.failed++;
      return false;
    }
    this.busy[slot] = true;
    this.pending.set(asyncId, slot);
    this.router.awaitCapture(asyncId, this.callbacks[slot]!);
    this.stats.captured++;
    return true;
  }

  private done(slot: number, cb: CaptureAudioFrameCallback): void {
    if (cb.asyncId !== undefined) this.pending.delete(cb.asyncId);
    this.busy[slot] = false;
    if (cb.error) this.stats.failed++;
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
  private readonly id: bigint;
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
    if (id === undefined) throw new Error('newAudioStream returned no handle');
    this.id = id;
    this.handle = new FfiHandle(id);
    router.addStream(id, this.onEvent);
  }

  private readonly onEvent = (ev: AudioStreamEvent): void => {
    const m = ev.message;
    if (m.case === 'frameReceived') {
      const owned = m.value.frame;
      const info = owned?.info;
      const frameHandle = owned?.handle?.id;
      if (info === undefined || frameHandle === undefined) return;
      const samples = (info.numChannels ?? 0) * (info.samplesPerChannel ?? 0);
      let data: Uint8Array | undefined;
      try {
        if (info.dataPtr !== undefined && samples > 0) data = livekitCopyBuffer(info.dataPtr, samples * 2);
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
    } else if (m.case === 'eos') {
      const wasOpen = !this.closed;
      this.close();
      if (wasOpen) this.opts.onEnd?.();
    }
  };

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
