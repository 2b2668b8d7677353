/**
 * One AgentStream WebSocket: the protocol both ways for the life of the connection.
 *
 * Exotel → us: `connected`, then `start` (within `startTimeoutMs`), then `media` about every
 * 100 ms, `dtmf`, `mark` echoes and `stop`. Every message is bounded (the server's
 * `maxPayload`), rate-limited (a token bucket: `maxMessagesPerSecond`, twice that in a
 * burst) and parsed strictly; malformed ones are counted and dropped, and past
 * `maxMalformed` the stream ends with `StreamProtocolError`. Caller audio is cut into 20 ms
 * frames and released on absolute 20 ms deadlines (bounded queue), so a 100 ms chunk
 * reaches the room as real-time frames.
 *
 * Us → Exotel: the room's 20 ms frames go through `StreamAudioOut` (chunks that are
 * multiples of 320 bytes, ≥ 3200 bytes, paced to real time, each followed by a `mark`);
 * Exotel's mark echoes tell what the caller has heard. `clearAudio()` sends `clear`
 * (barge-in) and reports what was heard and what was dropped. A stalled peer is bounded:
 * nothing more is queued once the socket's buffer passes `maxBufferedBytes`, a ping
 * unanswered for one interval ends the stream, and so does no media for `mediaTimeoutMs`.
 */
import { EventEmitter } from 'eventemitter3';
import { clearTimer, systemTimerClock, type TimerClock, type TimerHandle } from '../clock.js';
import { StreamProtocolError } from '../errors.js';
import { heldUntilClose } from '../resources.js';
import { silentLogger, type Logger } from '../logger.js';
import { StreamAudioOut } from './outbound-audio.js';
import { FramePacer } from './frame-pacer.js';
import {
  clearMessage,
  decodePcm,
  markMessage,
  mediaMessage,
  parseExotelEvent,
  type StreamParseLimits,
  type StreamStart,
} from './protocol.js';

/** What one message of the socket carries (as the `ws` package reports it). */
export type StreamSocketData = Buffer | ArrayBuffer | Buffer[];

/**
 * The part of a `ws` WebSocket this class uses (a `ws` server socket is one), so the public
 * types need nothing from `ws`.
 */
export interface StreamSocket {
  /** `WebSocket.readyState`: 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Bytes queued by `send()` and not yet written to the network. */
  readonly bufferedAmount: number;
  /** A message arrived (`isBinary` for a binary frame). */
  on(event: 'message', fn: (data: StreamSocketData, isBinary: boolean) => void): unknown;
  /** The socket closed, with its close code. */
  on(event: 'close', fn: (code: number) => void): unknown;
  /** The socket failed (a close follows). */
  on(event: 'error', fn: (err: Error) => void): unknown;
  /** The peer answered a ping. */
  on(event: 'pong', fn: () => void): unknown;
  /** The socket closed (once). */
  once(event: 'close', fn: () => void): unknown;
  /** Sends one text message. */
  send(text: string): void;
  /** Starts the closing handshake with `code` and `reason`. */
  close(code?: number, reason?: string): void;
  /** Sends a ping frame. */
  ping(): void;
  /** Destroys the connection at once, without a closing handshake. */
  terminate(): void;
}

/** `WebSocket.readyState` values. */
const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/** Bounds and timers of one stream. */
export interface AgentStreamLimits extends StreamParseLimits {
  /** Sustained messages per second from Exotel (default 50; a burst of twice that passes). */
  maxMessagesPerSecond?: number;
  /** Malformed messages tolerated before the stream is ended (default 10). */
  maxMalformed?: number;
  /** From the upgrade to `start` (default 5000 ms). */
  startTimeoutMs?: number;
  /** No `media` for this long ends the stream (default 10000 ms). */
  mediaTimeoutMs?: number;
  /** WebSocket ping interval; a ping still unanswered at the next one ends the stream (default 10000 ms). */
  pingIntervalMs?: number;
  /** Caller audio queued for the room, at most (default 1000 ms; older audio is dropped). */
  maxInboundQueueMs?: number;
  /** Agent audio queued for Exotel, at most (default 1000 ms). */
  maxOutboundQueueMs?: number;
  /** No more audio is sent while the socket has more than this buffered (default 256 KiB). */
  maxBufferedBytes?: number;
}

/** What a `clear` (barge-in) left behind. */
export interface StreamInterruption {
  /** Who asked: the agent's silence while the caller spoke, the agent's RPC, or the host. */
  by: 'auto' | 'rpc' | 'host';
  /** Agent audio sent to Exotel so far, in ms. */
  sentMs: number;
  /** Of that, what Exotel confirmed played (its last `mark` echo). */
  heardMs: number;
  /** Sent but not confirmed played: what the `clear` dropped at Exotel, at most. */
  unplayedMs: number;
  /** Agent audio still queued here, dropped. */
  droppedQueuedMs: number;
}

/** Counters of one stream. */
export interface AgentStreamStats {
  /** The stream's sample rate (0 until `start` arrived). */
  sampleRate: number;
  /** Messages received from Exotel, of every kind (refused ones included). */
  messagesReceived: number;
  /** `media` messages received (caller audio). */
  mediaReceived: number;
  /** Messages refused as malformed (bad JSON, fields, payload); too many end the stream. */
  malformed: number;
  /** Well-formed messages with an event this library does not know (ignored). */
  unknownEvents: number;
  /** Messages over the rate bound (the stream is ended on the first). */
  rateLimited: number;
  /** Caller audio frames dropped (queue over its bound). */
  inboundFramesDropped: number;
  /** Agent audio chunks sent, their ms, what Exotel confirmed heard, and what was dropped here. */
  chunksSent: number;
  /** Agent audio sent to Exotel, in ms. */
  sentMs: number;
  /** Agent audio Exotel confirmed the caller heard (by `mark` echoes), in ms. */
  heardMs: number;
  /** Agent audio dropped here (queue over its bound, or cleared), in ms. */
  outboundDroppedMs: number;
  /** Chunks not sent because the socket was backed up. */
  backpressureDrops: number;
  /** `clear` messages sent (barge-ins). */
  clears: number;
}

/** Events of {@link AgentStreamMedia}. */
export interface AgentStreamMediaEvents {
  /** `start` arrived: the call's identity and the audio format. */
  start: [start: StreamStart];
  /** 20 ms of caller audio at the stream rate (the array is reused: copy it to keep it). */
  audio: [samples: Int16Array];
  /** The first `media` event. */
  firstMedia: [];
  /** The caller pressed a key. */
  dtmf: [
    info: {
      /** The digit: `0`–`9`, `*`, `#` or `A`–`D`. */
      digit: string;
      /** How long it was held, in ms (as Exotel reports it; 0 when it did not say). */
      durationMs: number;
    },
  ];
  /** Exotel echoed a mark: the caller has heard `heardMs` of agent audio. */
  playback: [
    info: {
      /** The name of the echoed mark. */
      mark: string;
      /** Agent audio the caller has heard so far, in ms. */
      heardMs: number;
      /** Agent audio sent to Exotel and not yet confirmed heard, in ms. */
      pendingMs: number;
    },
  ];
  /** A `clear` was sent. */
  interrupted: [info: StreamInterruption];
  /** A message was refused (counted; the stream goes on unless it was the last straw). */
  protocolError: [error: StreamProtocolError];
  /** The stream is over: `stop`, a close from either side, or an error. Exactly once. */
  ended: [info: AgentStreamEnd];
}

/** How a stream ended. */
export interface AgentStreamEnd {
  /** `stop` (Exotel ended it), `closed` (the socket closed without `stop`), `local` (we closed it), `error`. */
  how: 'stop' | 'closed' | 'local' | 'error';
  /** The WebSocket close code (1000 after `stop`). */
  code: number;
  /** With `error`: what was wrong. */
  error?: StreamProtocolError;
  /** `stop.reason` when Exotel sent one (`callended`, `stopped`). */
  reason?: string;
}

type State = 'awaiting-start' | 'started' | 'ended';

/** The protocol of one AgentStream connection (created by the server at the upgrade). */
export class AgentStreamMedia extends EventEmitter<AgentStreamMediaEvents> {
  /** The peer's address (the socket's, or the proxy's). */
  readonly remote: {
    /** The peer's IP address. */
    address: string;
    /** The peer's port. */
    port: number;
  };
  private state: State = 'awaiting-start';
  private startInfo: StreamStart | undefined;
  private out: StreamAudioOut | undefined;
  private readonly clock: TimerClock;
  private readonly log: Logger;
  private readonly limits: Required<Omit<AgentStreamLimits, keyof StreamParseLimits>> & StreamParseLimits;
  private tokens: number;
  private lastRefill: number;
  private readonly st: AgentStreamStats = {
    sampleRate: 0,
    messagesReceived: 0,
    mediaReceived: 0,
    malformed: 0,
    unknownEvents: 0,
    rateLimited: 0,
    inboundFramesDropped: 0,
    chunksSent: 0,
    sentMs: 0,
    heardMs: 0,
    outboundDroppedMs: 0,
    backpressureDrops: 0,
    clears: 0,
  };
  // caller audio, cut into 20 ms frames, released on absolute deadlines
  private inbound: FramePacer | undefined;
  private outTimer: TimerHandle | undefined;
  private startTimer: TimerHandle | undefined;
  private mediaTimer: TimerHandle | undefined;
  private pingTimer: TimerHandle | undefined;
  private awaitingPong = false;
  private lastMediaAt = 0;
  private closeTimer: TimerHandle | undefined;
  /** Recent speech on each side, for the automatic barge-in. */
  private callerSpeechAt = Number.NEGATIVE_INFINITY;
  private agentSpeaking = false;
  private agentSilentFrames = 0;
  private autoClear = true;
  private lastAgentFrameAt = 0;
  private endedWith: AgentStreamEnd | undefined;

  /**
   * Speaks the protocol over `ws`, an accepted WebSocket: `start` must arrive within
   * `limits.startTimeoutMs`, pings go out every `limits.pingIntervalMs`. `remote` is the
   * peer's address as the host sees it (the proxy's, when one is in front).
   */
  constructor(
    private readonly ws: StreamSocket,
    opts: {
      remote: { address: string; port: number };
      limits?: AgentStreamLimits;
      clock?: TimerClock;
      logger?: Logger;
    },
  ) {
    super();
    this.remote = opts.remote;
    this.clock = opts.clock ?? systemTimerClock;
    this.log = opts.logger ?? silentLogger;
    const l = opts.limits ?? {};
    this.limits = {
      ...l,
      maxMessagesPerSecond: l.maxMessagesPerSecond ?? 50,
      maxMalformed: l.maxMalformed ?? 10,
      startTimeoutMs: l.startTimeoutMs ?? 5000,
      mediaTimeoutMs: l.mediaTimeoutMs ?? 10_000,
      pingIntervalMs: l.pingIntervalMs ?? 10_000,
      maxInboundQueueMs: l.maxInboundQueueMs ?? 1000,
      maxOutboundQueueMs: l.maxOutboundQueueMs ?? 1000,
      maxBufferedBytes: l.maxBufferedBytes ?? 256 * 1024,
    };
    this.tokens = this.limits.maxMessagesPerSecond * 2;
    this.lastRefill = this.clock.now();
    heldUntilClose('stream', ws);
    ws.on('message', this.onMessage);
    ws.on('close', this.onClose);
    ws.on('error', this.onSocketError);
    ws.on('pong', this.onPong);
    this.startTimer = this.clock.setTimeout(() => {
      this.startTimer = undefined;
      if (this.state === 'awaiting-start')
        this.fail(new StreamProtocolError('timeout', `no start within ${this.limits.startTimeoutMs} ms`));
    }, this.limits.startTimeoutMs);
    this.schedulePing();
  }

  /** `start`'s content, once it came. */
  get start(): StreamStart | undefined {
    return this.startInfo;
  }

  /** The stream's sample rate (8000 until `start` says otherwise). */
  get sampleRate(): number {
    return this.startInfo?.sampleRate ?? 8000;
  }

  /** Whether the stream has ended (see `endInfo` for how). */
  get ended(): boolean {
    return this.state === 'ended';
  }

  /** How the stream ended, once it has. */
  get endInfo(): AgentStreamEnd | undefined {
    return this.endedWith;
  }

  /** Whether caller audio has arrived. */
  get hasMedia(): boolean {
    return this.st.mediaReceived > 0;
  }

  /** Automatic barge-in (default on): the agent falls silent while the caller speaks → `clear`. */
  setAutoClear(on: boolean): void {
    this.autoClear = on;
  }

  /** A snapshot of the stream's counters. */
  stats(): AgentStreamStats {
    this.st.inboundFramesDropped = this.inbound?.dropped ?? 0;
    const o = this.out?.stats();
    if (o !== undefined) {
      this.st.chunksSent = o.chunks;
      this.st.sentMs = o.sentMs;
      this.st.heardMs = o.heardMs;
      this.st.outboundDroppedMs = o.droppedMs;
      this.st.clears = o.clears;
    }
    return { ...this.st };
  }

  /**
   * 20 ms of agent audio at the stream rate, to be played to the caller. Queued (bounded)
   * and sent in paced chunks; ignored before `start` and after the end.
   */
  writeAudio(samples: Int16Array): void {
    const out = this.out;
    if (out === undefined || this.state !== 'started') return;
    this.trackAgentSpeech(samples);
    this.lastAgentFrameAt = this.clock.now();
    out.push(samples);
    if (this.outTimer === undefined) this.pumpOut();
  }

  /** Sends `clear`: Exotel drops the agent audio it has not played; ours is dropped too. */
  clearAudio(by: StreamInterruption['by'] = 'host'): StreamInterruption | undefined {
    const out = this.out;
    const start = this.startInfo;
    if (out === undefined || start === undefined || this.state !== 'started') return undefined;
    const c = out.clear();
    this.outTimer = clearTimer(this.clock, this.outTimer);
    this.send(clearMessage(start.streamSid));
    const info: StreamInterruption = { by, ...c };
    this.log.info({ ...info }, '[BRIDGE] AgentStream clear sent (barge-in)');
    this.emit('interrupted', info);
    return info;
  }

  /**
   * Ends the stream from our side (close code 1000 unless told otherwise). Idempotent;
   * resolves once the socket is closed (terminated after 2 s if the peer does not answer).
   */
  close(code = 1000, reason = 'call ended'): Promise<void> {
    const done = new Promise<void>((resolve) => {
      if (this.ws.readyState === CLOSED) return resolve();
      this.ws.once('close', () => resolve());
    });
    this.finish({ how: 'local', code });
    if (this.ws.readyState === OPEN || this.ws.readyState === CONNECTING) {
      try {
        this.ws.close(code, reason);
      } catch {
        this.ws.terminate(); // a CONNECTING socket cannot close cleanly
      }
      this.closeTimer ??= this.clock.setTimeout(() => this.ws.terminate(), 2000, { unref: true });
    }
    return done.then(() => {
      this.closeTimer = clearTimer(this.clock, this.closeTimer);
    });
  }

  // --- receiving ---

  private readonly onMessage = (data: StreamSocketData, isBinary: boolean): void => {
    if (this.state === 'ended') return;
    this.st.messagesReceived++;
    if (!this.takeToken()) {
      this.st.rateLimited++;
      this.fail(
        new StreamProtocolError(
          'flood',
          `more than ${this.limits.maxMessagesPerSecond} messages a second (burst ${this.limits.maxMessagesPerSecond * 2})`,
        ),
        1008,
      );
      return;
    }
    if (isBinary) return this.malformed(new StreamProtocolError('bad-event', 'binary frame'));
    let ev;
    try {
      ev = parseExotelEvent(textOf(data), this.limits);
    } catch (err) {
      return this.malformed(err as StreamProtocolError);
    }
    switch (ev.event) {
      case 'connected':
        return;
      case 'start':
        return this.onStart(ev.start);
      case 'unknown':
        this.st.unknownEvents++;
        return;
    }
    if (this.state !== 'started')
      return this.malformed(new StreamProtocolError('unexpected', `${ev.event} before start`));
    switch (ev.event) {
      case 'media': {
        let samples: Int16Array;
        try {
          samples = decodePcm(ev.payload);
        } catch (err) {
          return this.malformed(err as StreamProtocolError);
        }
        this.st.mediaReceived++;
        this.lastMediaAt = this.clock.now();
        if (this.st.mediaReceived === 1) this.emit('firstMedia');
        if (this.isSpeech(samples)) this.callerSpeechAt = this.lastMediaAt;
        this.inbound?.push(samples);
        return;
      }
      case 'dtmf':
        this.emit('dtmf', { digit: ev.digit, durationMs: ev.durationMs });
        return;
      case 'mark': {
        const played = this.out?.markPlayed(ev.name);
        if (played !== undefined)
          this.emit('playback', {
            mark: ev.name,
            heardMs: played.heardMs,
            pendingMs: this.out?.pendingMs ?? 0,
          });
        return;
      }
      case 'stop':
        this.log.info({ reason: ev.reason }, '[BRIDGE] AgentStream stop');
        this.finish({ how: 'stop', code: 1000, reason: ev.reason });
        this.ws.close(1000, 'stopped');
        this.closeTimer ??= this.clock.setTimeout(() => this.ws.terminate(), 2000, { unref: true });
        return;
    }
  };

  private onStart(start: StreamStart): void {
    if (this.state !== 'awaiting-start') {
      this.malformed(new StreamProtocolError('unexpected', 'a second start'));
      return;
    }
    this.state = 'started';
    this.startTimer = clearTimer(this.clock, this.startTimer);
    this.startInfo = start;
    this.st.sampleRate = start.sampleRate;
    this.out = new StreamAudioOut({
      sampleRate: start.sampleRate,
      maxQueueMs: this.limits.maxOutboundQueueMs,
    });
    this.inbound = new FramePacer(this.clock, start.sampleRate, this.limits.maxInboundQueueMs, (frame) =>
      this.emit('audio', frame),
    );
    this.lastMediaAt = this.clock.now();
    this.scheduleMediaCheck();
    this.emit('start', start);
  }

  private malformed(err: StreamProtocolError): void {
    this.st.malformed++;
    this.emit('protocolError', err);
    if (this.st.malformed === 1 || this.st.malformed === this.limits.maxMalformed)
      this.log.warn({ err: err.message, count: this.st.malformed }, '[BRIDGE] AgentStream message refused');
    if (this.st.malformed >= this.limits.maxMalformed || this.state === 'awaiting-start')
      this.fail(err, 1008);
  }

  private takeToken(): boolean {
    const now = this.clock.now();
    const rate = this.limits.maxMessagesPerSecond;
    this.tokens = Math.min(rate * 2, this.tokens + ((now - this.lastRefill) * rate) / 1000);
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  // --- sending ---

  private readonly pumpOut = (): void => {
    this.outTimer = undefined;
    const out = this.out;
    const start = this.startInfo;
    if (out === undefined || start === undefined || this.state !== 'started') return;
    const now = this.clock.now();
    // the agent's audio stopped (its track ended) mid-chunk: send the rest, padded
    const idle = now - this.lastAgentFrameAt >= out.chunkMs;
    const chunk = idle ? out.flush(now) : out.poll(now);
    if (chunk !== undefined) {
      if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
        this.st.backpressureDrops++;
      } else {
        this.send(mediaMessage(start.streamSid, chunk.samples));
        this.send(markMessage(start.streamSid, chunk.mark));
      }
    }
    const next = out.nextDueMs(this.clock.now(), { flush: idle });
    if (next !== undefined)
      this.outTimer = this.clock.setTimeout(this.pumpOut, Math.max(0, next - this.clock.now()));
  };

  private send(text: string): void {
    if (this.ws.readyState !== OPEN) return;
    this.ws.send(text);
  }

  /** The automatic barge-in: the agent stops mid-speech while the caller is speaking. */
  private trackAgentSpeech(samples: Int16Array): void {
    if (this.isSpeech(samples)) {
      this.agentSpeaking = true;
      this.agentSilentFrames = 0;
      return;
    }
    if (!this.agentSpeaking) return;
    if (++this.agentSilentFrames < 3) return;
    this.agentSpeaking = false;
    const callerSpoke = this.clock.now() - this.callerSpeechAt <= 1000;
    const unplayed = (this.out?.pendingMs ?? 0) + (this.out?.stats().queuedMs ?? 0);
    if (this.autoClear && callerSpoke && unplayed > 0) this.clearAudio('auto');
  }

  /** Mean absolute amplitude above about -40 dBFS. */
  private isSpeech(samples: Int16Array): boolean {
    let sum = 0;
    for (let i = 0; i < samples.length; i++) sum += Math.abs(samples[i] ?? 0);
    return samples.length > 0 && sum / samples.length > 300;
  }

  // --- liveness ---

  private schedulePing(): void {
    this.pingTimer = this.clock.setTimeout(
      () => {
        this.pingTimer = undefined;
        if (this.state === 'ended') return;
        if (this.awaitingPong) {
          this.fail(new StreamProtocolError('timeout', `no pong within ${this.limits.pingIntervalMs} ms`));
          this.ws.terminate();
          return;
        }
        this.awaitingPong = true;
        if (this.ws.readyState === OPEN) this.ws.ping();
        this.schedulePing();
      },
      this.limits.pingIntervalMs,
      { unref: true },
    );
  }

  private readonly onPong = (): void => {
    this.awaitingPong = false;
  };

  private scheduleMediaCheck(): void {
    const due = this.lastMediaAt + this.limits.mediaTimeoutMs;
    this.mediaTimer = this.clock.setTimeout(
      () => {
        this.mediaTimer = undefined;
        if (this.state !== 'started') return;
        if (this.clock.now() - this.lastMediaAt >= this.limits.mediaTimeoutMs) {
          this.fail(new StreamProtocolError('timeout', `no media for ${this.limits.mediaTimeoutMs} ms`));
          return;
        }
        this.scheduleMediaCheck();
      },
      Math.max(0, due - this.clock.now()),
      { unref: true },
    );
  }

  // --- the end ---

  private readonly onClose = (code: number): void => {
    this.closeTimer = clearTimer(this.clock, this.closeTimer);
    if (this.state === 'ended') return;
    // 1000/1001 without stop: Exotel hung up; anything else (1006: the connection dropped) is an error
    if (code === 1000 || code === 1001 || code === 1005) this.finish({ how: 'closed', code });
    else
      this.finish({
        how: 'error',
        code,
        error: new StreamProtocolError('closed', `AgentStream socket closed (code ${code})`),
      });
  };

  private readonly onSocketError = (err: Error): void => {
    // ws reports oversize frames (1009) and bad frames here, then closes the socket
    const tooLarge = /max payload|too big/i.test(err.message);
    this.fail(
      new StreamProtocolError(tooLarge ? 'too-large' : 'closed', `AgentStream socket error: ${err.message}`, {
        cause: err,
      }),
      tooLarge ? 1009 : 1011,
    );
  };

  private fail(error: StreamProtocolError, code = 1011): void {
    if (this.state === 'ended') return;
    this.log.warn({ err: error.message, reason: error.reason }, '[BRIDGE] AgentStream ended by an error');
    this.finish({ how: 'error', code, error });
    if (this.ws.readyState === OPEN) this.ws.close(code, error.reason);
    if (this.ws.readyState !== CLOSED)
      this.closeTimer ??= this.clock.setTimeout(() => this.ws.terminate(), 2000, { unref: true });
  }

  private finish(info: AgentStreamEnd): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endedWith = info;
    this.startTimer = clearTimer(this.clock, this.startTimer);
    this.mediaTimer = clearTimer(this.clock, this.mediaTimer);
    this.pingTimer = clearTimer(this.clock, this.pingTimer);
    this.outTimer = clearTimer(this.clock, this.outTimer);
    this.inbound?.close();
    this.emit('ended', info);
  }
}

function textOf(data: StreamSocketData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
