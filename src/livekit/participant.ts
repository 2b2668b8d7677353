/**
 * The phone's side of the LiveKit room: one participant that publishes the caller's
 * audio (an `AudioSource` at 8 kHz, or the AgentStream rate) and reads the agents' audio
 * (`AudioStream` at the same rate, 20 ms frames, mixed across tracks). Knows nothing of SIP or RTP.
 *
 * Every room handler is attached in the constructor, before `connect()` can run, so a
 * track the agent published before the phone joined is never missed.
 */
import { EventEmitter } from 'eventemitter3';
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  ConnectionState,
  DisconnectReason,
  LocalAudioTrack,
  ParticipantKind,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  type LocalTrackPublication,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
  type RoomOptions,
  type RpcInvocationData,
} from '@livekit/rtc-node';
import * as rtcNode from '@livekit/rtc-node';
import { quietRtcNodeLog } from './rtc-log.js';
import { systemTimerClock, type TimerClock, type TimerHandle } from '../clock.js';
import { bestEffortAsync } from '../best-effort.js';
import { AbortedError, ClosedError, ConfigError, LiveKitConnectError, LiveKitError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { FrameMixer } from './frame-mixer.js';
import { RPC_END_CALL, RPC_GET_REMOTE_HEADERS } from './wire.js';
import { installFfiDisposeGuard, releaseRoomHandles } from './ffi-guard.js';
import { FfiMediaRouter, NativeAudioCapture, NativeAudioReader, quietNativeInit } from './ffi-media.js';
quietRtcNodeLog(rtcNode); // rtc-node's own logger would print JSON lines to stdout (see rtc-log.ts)

/** Sample rate both directions use inside the bridge. */
export const BRIDGE_SAMPLE_RATE = 8000;
/** Samples per 20 ms frame at 8 kHz. */
export const FRAME_SAMPLES = 160;

/** Which remote participants' audio goes to the phone. */
export type ParticipantPredicate = (participant: RemoteParticipant) => boolean;

/** Default predicate: participants of kind AGENT (LiveKit Agents workers). */
export const isAgentParticipant: ParticipantPredicate = (p) => p.kind === ParticipantKind.AGENT;

export { RPC_END_CALL, RPC_GET_REMOTE_HEADERS } from './wire.js';
/** rtc-node itself, for code that must not import it statically (see `rtc.ts`). */
export { rtcNode };

export interface PhoneParticipantOptions {
  /** LiveKit server URL (`ws://…` or `wss://…`). */
  url: string;
  /** Access token (see `createBridgeToken`). */
  token: string;
  /** Whose audio is sent to the phone (default: kind AGENT). */
  isAgent?: ParticipantPredicate;
  /** Connect timeout (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * Sample rate of the phone track and of the agent audio read (default 8000: G.711).
   * AgentStream calls use the stream's rate (16000 or 24000) so nothing is resampled by hand.
   */
  sampleRate?: number;
  /**
   * AudioSource queue in ms, a multiple of 10 (default 0: no native queue, see
   * {@link PhoneTrackTuning.audioSourceQueueMs}; each 20 ms frame is then handed over as two
   * 10 ms frames, the only size the unqueued source takes). A queue is kept small, so a burst
   * cannot add seconds of delay (AgentStream calls use 200).
   */
  queueSizeMs?: number;
  /** How the phone track is published (RED, DTX, Opus bitrate); default rtc-node's. */
  publish?: PhoneTrackPublish;
  /**
   * Per-frame audio through the bridge's own FFI path (`ffi-media.ts`), which keeps the
   * frames out of rtc-node's process-wide event broadcast (default true). `false` uses
   * rtc-node's `AudioSource.captureFrame()` and `AudioStream`.
   */
  directFfi?: boolean;
  /** Answers `lk.sip.GetRemoteHeaders` (the far end's X- headers). */
  remoteHeaders?: () => Record<string, string>;
  /** More RPC methods this participant answers (call control), registered with the two above. */
  rpcMethods?: Readonly<Record<string, (data: RpcInvocationData) => Promise<string>>>;
  logger?: Logger;
  /** The clock of the connect timeout and the close-time bounds (default: the system clock). */
  clock?: TimerClock;
}

/**
 * Publish options of the phone track (rtc-node's `TrackPublishOptions` fields). Measured
 * with `bench:load` variants on a shared 2-core box (CPU ms per call-second of the bridge
 * process, same run, 5 / 10 calls), none helped enough to change rtc-node's default.
 */
export interface PhoneTrackPublish {
  /**
   * Redundant audio (RED) on the phone track (default true, rtc-node's). `false` measured
   * −10 % / +2 % (`bridge@nored`), within the run's noise; RED protects the phone's audio
   * against loss between the bridge and the SFU, so it stays on.
   */
  red?: boolean;
  /**
   * Opus discontinuous transmission (default true, rtc-node's). `false` cost +8 % / +13 %
   * (`bridge@nodtx`).
   */
  dtx?: boolean;
  /**
   * Opus maximum bitrate in bit/s (default: rtc-node's MUSIC preset). 24 kbit/s measured
   * −2 % / +17 % (`bridge@kbps24`): the encoder's work does not follow the bitrate.
   */
  maxBitrateBps?: number;
}

/**
 * Advanced tuning of the call's LiveKit media (`runBridge({ livekitMedia })`). The figures
 * quoted come from `npm run bench:load` variants (bench/load/variants.ts); compare such
 * figures only within one run.
 */
export interface PhoneTrackTuning extends PhoneTrackPublish {
  /**
   * Native queue of the phone track's `AudioSource`, in ms: 0 (the default for SIP calls)
   * or a multiple of 10; AgentStream calls keep 200 whatever this says.
   *
   * With 0 the native source has no queue, no `AudioSourceCapture` thread and no 10 ms
   * timer: each frame reaches the Opus encoder when the bridge captures it (the bridge
   * already paces 20 ms frames from its jitter buffer's playout tick), as two 10 ms frames.
   * Against 100 (the default before) it measured −16 % / −9 % CPU per call-second at
   * 5 / 10 calls (Opus encoder, audio-capture and network threads lower, the JS thread
   * +0.4…1.6 ms for the second request per frame), with no loss of the far end's tone at
   * the agents. It also avoids a native leak: when the server deletes the room, rtc-node
   * keeps the published track, and with a queued source its capture thread, for the life
   * of the process (livekit/rust-sdks#1443; 4 such calls left 4 threads with 100, none with 0).
   */
  audioSourceQueueMs?: number;
}

export interface AgentTrackInfo {
  identity: string;
  trackSid: string;
}

/** Events of `PhoneParticipant`. */
export interface PhoneParticipantEvents {
  /** 20 ms of agent audio at `sampleRate` (mixed). The array is reused: copy it to keep it. */
  agentAudio: [samples: Int16Array];
  /** An agent audio track is now being read. */
  agentTrackSubscribed: [info: AgentTrackInfo];
  agentTrackEnded: [info: AgentTrackInfo];
  /** DTMF published by a participant in the room (`publishDtmf`). */
  dtmf: [info: { digit: string; code: number; identity: string }];
  /** An agent called `lk.sip.EndCall` on this participant. */
  endCallRequested: [info: { identity: string }];
  /** A remote participant left; `agent` tells whether it matched `isAgent`. */
  participantDisconnected: [info: { identity: string; kind: ParticipantKind; agent: boolean }];
  /** The connection to the server dropped and the SDK is trying to resume it. */
  reconnecting: [];
  /** The connection was resumed. */
  reconnected: [];
  /** The room connection ended (removed, room deleted, server lost, or `close()`). */
  disconnected: [info: { reason: DisconnectReason; byClose: boolean }];
}

type State = 'new' | 'connecting' | 'connected' | 'closed';

/** The bridge's participant in the host's room. */
export class PhoneParticipant extends EventEmitter<PhoneParticipantEvents> {
  readonly room: Room;
  private state: State = 'new';
  private readonly log: Logger;
  private readonly isAgent: ParticipantPredicate;
  private readonly clock: TimerClock;
  private source: AudioSource | undefined;
  private track: LocalAudioTrack | undefined;
  private publication: LocalTrackPublication | undefined;
  private readonly streams = new Map<string, AudioStream | NativeAudioReader>();
  private capture: NativeAudioCapture | undefined;
  /** Queue 0: the two 10 ms halves of a 20 ms frame (the unqueued source takes 10 ms only). */
  private halves: [Int16Array, Int16Array] | undefined;
  private readonly trackInfo = new Map<string, AgentTrackInfo>();
  private readonly mixer: FrameMixer;
  private closing: Promise<void> | undefined;
  /** Settles when the native connect has (it is bounded by `connectTimeoutMs`). */
  private connecting: Promise<void> | undefined;
  private framesCaptured = 0;
  private framesDropped = 0;
  private framesBeforePublish = 0;
  /** The rate of both directions, and the samples of one 20 ms frame at it. */
  readonly sampleRate: number;
  private readonly frameSamples: number;
  /** Native handles released at close (diagnostics and tests). */
  handlesReleased = 0;

  constructor(private readonly opts: PhoneParticipantOptions) {
    super();
    this.log = opts.logger ?? silentLogger;
    this.isAgent = opts.isAgent ?? isAgentParticipant;
    this.clock = opts.clock ?? systemTimerClock;
    this.sampleRate = opts.sampleRate ?? BRIDGE_SAMPLE_RATE;
    this.frameSamples = this.sampleRate / 50;
    installFfiDisposeGuard();
    this.room = new Room();
    this.mixer = new FrameMixer(this.frameSamples, (samples) => this.emit('agentAudio', samples));
    // Handlers first: before connect() there is nothing to miss.
    this.room.on(RoomEvent.TrackPublished, this.onTrackPublished);
    this.room.on(RoomEvent.TrackSubscribed, this.onTrackSubscribed);
    this.room.on(RoomEvent.TrackUnsubscribed, this.onTrackUnsubscribed);
    this.room.on(RoomEvent.ParticipantDisconnected, this.onParticipantDisconnected);
    this.room.on(RoomEvent.DtmfReceived, this.onDtmf);
    this.room.on(RoomEvent.Disconnected, this.onDisconnected);
    this.room.on(RoomEvent.Reconnecting, this.onReconnecting);
    this.room.on(RoomEvent.Reconnected, this.onReconnected);
  }

  /** Number of room event handlers attached (for tests: all of them exist before connect). */
  handlerCount(): number {
    return [
      RoomEvent.TrackPublished,
      RoomEvent.TrackSubscribed,
      RoomEvent.TrackUnsubscribed,
      RoomEvent.ParticipantDisconnected,
      RoomEvent.DtmfReceived,
      RoomEvent.Disconnected,
      RoomEvent.Reconnecting,
      RoomEvent.Reconnected,
    ].reduce((n, e) => n + this.room.listenerCount(e), 0);
  }

  get identity(): string | undefined {
    return this.room.localParticipant?.identity;
  }

  /** Remote participants in the room that match `isAgent` (besides `except`). */
  agentsPresent(except?: string): number {
    let n = 0;
    for (const p of this.room.remoteParticipants.values()) {
      if (p.identity !== except && this.isAgent(p)) n++;
    }
    return n;
  }

  get isConnected(): boolean {
    return this.state === 'connected' && this.room.connectionState === ConnectionState.CONN_CONNECTED;
  }

  /** Connects, within `connectTimeoutMs`, cancellable by `signal`. */
  async connect(signal?: AbortSignal): Promise<void> {
    if (this.state !== 'new') throw new ClosedError('PhoneParticipant');
    this.state = 'connecting';
    const timeoutMs = this.opts.connectTimeoutMs ?? 10_000;
    // Native options absent from the TS type: a bounded connect and no silent retries.
    // Only agents' audio is subscribed (onTrackPublished, subscribeAgents): in a room with
    // many phones, receiving every other phone's track would cost CPU and memory per call.
    const options = {
      autoSubscribe: false,
      dynacast: false,
      connectTimeoutMs: BigInt(timeoutMs),
      joinRetries: 0,
    } as RoomOptions;
    const connecting =
      this.opts.directFfi === false
        ? this.room.connect(this.opts.url, this.opts.token, options)
        : quietNativeInit(() => this.room.connect(this.opts.url, this.opts.token, options));
    // The FFI client exists now: route media frames and drop (or stop) native log records
    // before the connect floods the process with them (ffi-media.ts).
    if (this.opts.directFfi !== false) FfiMediaRouter.get();
    this.connecting = connecting.then(
      () => undefined,
      () => undefined,
    );
    let timer: TimerHandle | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        connecting,
        new Promise<never>((_, reject) => {
          timer = this.clock.setTimeout(
            () =>
              reject(
                new LiveKitConnectError(`connecting to ${this.opts.url} timed out after ${timeoutMs} ms`),
              ),
            timeoutMs,
          );
          if (signal) {
            onAbort = () => reject(new AbortedError('LiveKit connect aborted', { cause: signal.reason }));
            if (signal.aborted) onAbort();
            else signal.addEventListener('abort', onAbort, { once: true });
          }
        }),
      ]);
    } catch (err) {
      // Marks the native connect handled: its outcome is waited for (and reported) by close().
      connecting.catch(() => undefined);
      if (err instanceof LiveKitConnectError || err instanceof AbortedError) {
        // Timed out or aborted: the native connect is still running and may yet join the
        // room. close() waits for it to settle and then leaves, so nothing stays behind;
        // the caller need not wait for that (its own teardown awaits close()).
        void this.close();
        throw err;
      }
      await this.close();
      throw new LiveKitConnectError(
        `cannot connect to LiveKit at ${this.opts.url}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    } finally {
      if (timer !== undefined) this.clock.clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
    if (this.state !== 'connecting') {
      // closed while connecting
      await bestEffortAsync(
        this.log,
        '[BRIDGE] LiveKit disconnect after a close during connect',
        this.room.disconnect(),
      );
      throw new ClosedError('PhoneParticipant');
    }
    this.state = 'connected';
    // Tracks published before we joined arrive with the room state, not as events.
    for (const p of this.room.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) this.onTrackPublished(pub, p);
    }
    const lp = this.room.localParticipant;
    if (lp) {
      lp.registerRpcMethod(RPC_END_CALL, this.onEndCallRpc);
      lp.registerRpcMethod(RPC_GET_REMOTE_HEADERS, this.onRemoteHeadersRpc);
      for (const [name, handler] of Object.entries(this.opts.rpcMethods ?? {}))
        lp.registerRpcMethod(name, handler);
    }
  }

  /** Publishes the phone's microphone track (a mono `AudioSource` at `sampleRate`). */
  async publishAudio(trackName = 'phone'): Promise<void> {
    const lp = this.room.localParticipant;
    if (this.state !== 'connected' || !lp) throw new ClosedError('PhoneParticipant');
    const queueMs = this.opts.queueSizeMs ?? 0;
    // the native side asserts (a panic) on anything else
    if (!Number.isInteger(queueMs) || queueMs < 0 || queueMs % 10 !== 0)
      throw new ConfigError([`the AudioSource queue must be 0 or a multiple of 10 ms (got ${queueMs})`]);
    this.source = new AudioSource(this.sampleRate, 1, queueMs);
    this.track = LocalAudioTrack.createAudioTrack(trackName, this.source);
    const half = this.frameSamples / 2;
    if (queueMs === 0) this.halves = [new Int16Array(half), new Int16Array(half)];
    const router = this.opts.directFfi === false ? undefined : FfiMediaRouter.get();
    if (router)
      this.capture = new NativeAudioCapture(
        router,
        this.source.ffiHandle.handle,
        this.sampleRate,
        queueMs === 0 ? half : this.frameSamples,
      );
    const pub = this.opts.publish ?? {};
    try {
      this.publication = await lp.publishTrack(
        this.track,
        new TrackPublishOptions({
          source: TrackSource.SOURCE_MICROPHONE,
          ...(pub.red !== undefined ? { red: pub.red } : {}),
          ...(pub.dtx !== undefined ? { dtx: pub.dtx } : {}),
          ...(pub.maxBitrateBps !== undefined
            ? { audioEncoding: { maxBitrate: BigInt(Math.round(pub.maxBitrateBps)) } }
            : {}),
        }),
      );
    } catch (err) {
      throw new LiveKitError(`publishing the phone track failed: ${String(err)}`, { cause: err });
    }
  }

  /**
   * Sends 20 ms of mono samples at `sampleRate` from the phone into the room. The samples are copied, so
   * the caller may reuse its buffer. Never throws; failures are counted.
   */
  captureAudio(samples: Int16Array): void {
    const source = this.source;
    if (!source || this.state !== 'connected') {
      this.framesBeforePublish += 1; // the call dials while we join: its first audio has no track yet
      return;
    }
    const capture = this.capture;
    const halves = this.halves;
    if (halves && samples.length === this.frameSamples) {
      // the unqueued source takes 10 ms frames only: copy the two halves (no views allocated)
      const [a, b] = halves;
      const n = a.length;
      for (let i = 0; i < n; i++) {
        a[i] = samples[i]!;
        b[i] = samples[n + i]!;
      }
      if (capture) {
        if (capture.capture(a) && capture.capture(b)) this.framesCaptured += 1;
        else this.framesDropped += 1;
        return;
      }
      this.framesCaptured += 1;
      for (const h of halves)
        source.captureFrame(new AudioFrame(h.slice(), this.sampleRate, 1, n)).catch(() => {
          this.framesDropped += 1;
        });
      return;
    }
    if (capture) {
      if (capture.capture(samples)) this.framesCaptured += 1;
      else this.framesDropped += 1;
      return;
    }
    const frame = new AudioFrame(samples.slice(), this.sampleRate, 1, samples.length);
    this.framesCaptured += 1;
    source.captureFrame(frame).catch(() => {
      // counted in `framesDropped` (stats); per frame, so never logged here
      this.framesDropped += 1;
    });
  }

  /** Sets attributes (merged with the existing ones by the server). */
  async setAttributes(attributes: Record<string, string>): Promise<void> {
    const lp = this.room.localParticipant;
    if (!lp || this.state !== 'connected') return;
    await lp.setAttributes(attributes);
  }

  /** Publishes a DTMF digit into the room (as LiveKit SIP does for digits from the phone). */
  async publishDtmf(code: number, digit: string): Promise<void> {
    const lp = this.room.localParticipant;
    if (!lp || this.state !== 'connected') return;
    await lp.publishDtmf(code, digit);
  }

  /** Agent audio tracks currently being read. */
  agentTracks(): AgentTrackInfo[] {
    return [...this.trackInfo.values()];
  }

  stats(): {
    framesCaptured: number;
    framesDropped: number;
    framesBeforePublish: number;
    agentTracks: number;
  } {
    return {
      framesCaptured: this.framesCaptured,
      framesBeforePublish: this.framesBeforePublish,
      // frames refused at once are counted as they happen; those the native side rejects later here
      framesDropped: this.framesDropped + (this.capture?.stats.rejected ?? 0),
      agentTracks: this.streams.size,
    };
  }

  /** Cancels the streams, unpublishes, closes the source and leaves the room. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.state = 'closed';
    // A connect still in flight may join the room after all: wait for it, then leave.
    await this.connecting;
    for (const [sid, stream] of this.streams) {
      this.streams.delete(sid);
      if (stream instanceof NativeAudioReader) this.endNativeStream(sid, stream);
      else await bestEffortAsync(this.log, '[BRIDGE] Cancelling an agent audio stream', stream.cancel());
    }
    this.capture?.close();
    const lp = this.room.localParticipant;
    if (lp) {
      lp.unregisterRpcMethod(RPC_END_CALL);
      lp.unregisterRpcMethod(RPC_GET_REMOTE_HEADERS);
      for (const name of Object.keys(this.opts.rpcMethods ?? {})) lp.unregisterRpcMethod(name);
    }
    if (this.publication?.sid && lp && this.room.isConnected) {
      await bestEffortAsync(
        this.log,
        '[BRIDGE] Unpublishing the phone track',
        lp.unpublishTrack(this.publication.sid),
      );
    }
    if (this.track)
      await bestEffortAsync(this.log, '[BRIDGE] Closing the phone track', this.track.close(false));
    if (this.source)
      await bestEffortAsync(this.log, '[BRIDGE] Closing the audio source', this.source.close());
    this.source = undefined;
    await bestEffortAsync(this.log, '[BRIDGE] LiveKit disconnect', this.room.disconnect());
    // rtc-node leaves the room's native handles to the garbage collector, whose finalizer
    // can crash the process when a handle is already gone: release them now (ffi-guard.ts).
    this.handlesReleased =
      (await bestEffortAsync(
        this.log,
        '[BRIDGE] Releasing the room native handles',
        releaseRoomHandles(this.room, undefined, this.clock),
      )) ?? 0;
    this.room.off(RoomEvent.TrackPublished, this.onTrackPublished);
    this.room.off(RoomEvent.TrackSubscribed, this.onTrackSubscribed);
    this.room.off(RoomEvent.TrackUnsubscribed, this.onTrackUnsubscribed);
    this.room.off(RoomEvent.ParticipantDisconnected, this.onParticipantDisconnected);
    this.room.off(RoomEvent.DtmfReceived, this.onDtmf);
    this.room.off(RoomEvent.Disconnected, this.onDisconnected);
    this.room.off(RoomEvent.Reconnecting, this.onReconnecting);
    this.room.off(RoomEvent.Reconnected, this.onReconnected);
  }

  private readonly onTrackPublished = (
    publication: RemoteTrackPublication,
    participant: RemoteParticipant,
  ): void => {
    if (this.state === 'closed' || publication.kind !== TrackKind.KIND_AUDIO || !this.isAgent(participant))
      return;
    if (publication.subscribed) return;
    try {
      publication.setSubscribed(true);
    } catch (err) {
      this.log.warn(
        { err: String(err), identity: participant.identity },
        '[BRIDGE] cannot subscribe to agent audio',
      );
    }
  };

  private readonly onTrackSubscribed = (
    track: RemoteTrack,
    publication: RemoteTrackPublication,
    participant: RemoteParticipant,
  ): void => {
    if (this.state === 'closed' || track.kind !== TrackKind.KIND_AUDIO || !this.isAgent(participant)) return;
    const sid = publication.sid ?? track.sid ?? `${participant.identity}-${this.streams.size}`;
    if (this.streams.has(sid)) return;
    const info = { identity: participant.identity, trackSid: sid };
    const router = this.opts.directFfi === false ? undefined : FfiMediaRouter.get();
    if (router) {
      let reader: NativeAudioReader;
      try {
        reader = new NativeAudioReader(router, track.ffi_handle.handle, {
          sampleRate: this.sampleRate,
          numChannels: 1,
          frameSizeMs: 20,
          onFrame: (samples) => this.mixer.push(sid, samples),
          onEnd: () => this.endNativeStream(sid, reader),
        });
      } catch (err) {
        this.log.warn({ err: String(err), trackSid: sid }, '[BRIDGE] cannot read agent audio');
        return;
      }
      this.streams.set(sid, reader);
      this.mixer.addSource(sid);
      this.trackInfo.set(sid, info);
      this.log.debug({ identity: participant.identity, trackSid: sid }, 'agent audio track subscribed');
      this.emit('agentTrackSubscribed', info);
      return;
    }
    const stream = new AudioStream(track, {
      sampleRate: this.sampleRate,
      numChannels: 1,
      frameSizeMs: 20,
    });
    this.streams.set(sid, stream);
    this.mixer.addSource(sid);
    this.trackInfo.set(sid, info);
    this.log.debug({ identity: participant.identity, trackSid: sid }, 'agent audio track subscribed');
    this.emit('agentTrackSubscribed', info);
    void this.readStream(sid, stream, info);
  };

  private async readStream(sid: string, stream: AudioStream, info: AgentTrackInfo): Promise<void> {
    const reader = stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.state === 'closed') break;
        this.mixer.push(sid, value.data);
      }
    } catch (err) {
      this.log.warn({ err: String(err), trackSid: sid }, '[BRIDGE] agent audio stream failed');
    } finally {
      reader.releaseLock();
      this.mixer.removeSource(sid);
      this.trackInfo.delete(sid);
      if (this.streams.delete(sid))
        await bestEffortAsync(this.log, '[BRIDGE] Cancelling an agent audio stream', stream.cancel());
      this.emit('agentTrackEnded', info);
    }
  }

  /** Ends one agent stream read through the direct FFI path (unsubscribed, ended or closed). */
  private endNativeStream(sid: string, reader: NativeAudioReader): void {
    reader.close();
    if (this.streams.get(sid) === reader) this.streams.delete(sid);
    const info = this.trackInfo.get(sid);
    if (info === undefined) return;
    this.trackInfo.delete(sid);
    this.mixer.removeSource(sid);
    this.emit('agentTrackEnded', info);
  }

  private readonly onTrackUnsubscribed = (_t: RemoteTrack, publication: RemoteTrackPublication): void => {
    const sid = publication.sid;
    if (sid === undefined) return;
    const stream = this.streams.get(sid);
    if (stream instanceof NativeAudioReader) this.endNativeStream(sid, stream);
    else if (stream) {
      this.streams.delete(sid);
      void bestEffortAsync(this.log, '[BRIDGE] Cancelling an agent audio stream', stream.cancel());
    }
  };

  private readonly onParticipantDisconnected = (p: RemoteParticipant): void => {
    this.emit('participantDisconnected', { identity: p.identity, kind: p.kind, agent: this.isAgent(p) });
  };

  private readonly onDtmf = (code: number, digit: string, p: RemoteParticipant): void => {
    this.emit('dtmf', { code, digit, identity: p.identity });
  };

  private readonly onDisconnected = (reason: DisconnectReason): void => {
    const byClose = this.state === 'closed';
    this.emit('disconnected', { reason: reason ?? DisconnectReason.UNKNOWN_REASON, byClose });
  };

  private readonly onReconnecting = (): void => {
    if (this.state !== 'closed') this.emit('reconnecting');
  };

  private readonly onReconnected = (): void => {
    if (this.state === 'closed') return;
    // After a full reconnect (a restarted server) agents that rejoined first arrive with the
    // room state, not as TrackPublished events: subscribe to their tracks as after connect.
    for (const p of this.room.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) this.onTrackPublished(pub, p);
    }
    this.emit('reconnected');
  };

  private readonly onEndCallRpc = async (data: RpcInvocationData): Promise<string> => {
    this.emit('endCallRequested', { identity: data.callerIdentity });
    return '';
  };

  private readonly onRemoteHeadersRpc = async (): Promise<string> => {
    return JSON.stringify(this.opts.remoteHeaders?.() ?? {});
  };
}
