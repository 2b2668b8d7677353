/**
 * The simulator's AgentStream side: a WebSocket client that behaves like Exotel's
 * Voicebot applet / "connect Voice AI" call towards a bot's `ws(s)://` URL. It sends
 * `connected`, `start` and paced `media` (what the caller says: a tone, samples or
 * silence, one chunk every `chunkMs` against absolute deadlines on the injected clock),
 * `dtmf` and `stop` on request, and it plays what the bot sends in real time:
 *
 * - every `media` from the bot joins a playout queue that a 20 ms playout timer consumes
 *   (into {@link SimulatedAgentStream.heardSamples}); idle time is not recorded;
 * - a `mark` is queued behind the audio received before it and echoed back when playout
 *   reaches it (at once when nothing is queued);
 * - a `clear` drops the unplayed audio AND the marks still pending, without echoing
 *   them. Exotel's documentation does not say what happens to pending marks on `clear`;
 *   dropping them is our choice, so a bot must not wait for a mark it sent before a
 *   `clear`.
 *
 * What the bot sends never throws out of here: a malformed message is counted
 * (`messagesReceived.malformed`) and reported as a `protocolError` event. Chunks that are
 * not whole multiples of 320 bytes (Exotel's rule for bot media) are played but counted
 * in `unalignedMedia`.
 *
 * Messages are built with `ExotelEventWriter` and parsed with `parseBotEvent`
 * (`src/agentstream/protocol.ts`). Every timer runs on the injected clock; `close`,
 * `stop`, `terminate` and the socket's end clear them all before `ended` resolves.
 */
import { EventEmitter } from 'eventemitter3';
import WebSocket from 'ws';
import {
  ExotelEventWriter,
  STREAM_SAMPLE_RATES,
  parseBotEvent,
  type StreamSampleRate,
} from '../agentstream/protocol.js';
import { clearTimer, systemTimerClock, type TimerClock, type TimerHandle } from '../clock.js';
import { ClosedError, ConfigError, StreamProtocolError } from '../errors.js';
import { cryptoRandom } from '../random.js';
import { generateTone } from '../rtp/goertzel.js';

/**
 * What the caller "says" into the stream, looped: `{ toneHz, amplitude }` a sine tone of
 * `toneHz` Hz with peak `amplitude` of 32767 (default 8000); `{ samples }` these samples at
 * the stream's rate; or `'silence'`.
 */
export type AgentStreamPlay = { toneHz: number; amplitude?: number } | { samples: Int16Array } | 'silence';

/** Options of {@link connectAgentStream}: where to connect and what the stream's `start` says. */
export interface AgentStreamClientOptions {
  /** The bot's `ws://` or `wss://` URL; may carry `user:pass@` (Basic auth) and query parameters. */
  url: string;
  /** `start.from`: the caller (as Exotel writes it, e.g. `09876543210`). */
  from: string;
  /** `start.to`: the Exophone the call reached. */
  to: string;
  /** Default: a random `CA…`. */
  callSid?: string;
  /** Default `'ACsimulator'`. */
  accountSid?: string;
  /** Default: a random `MZ…`. */
  streamSid?: string;
  /** Default: the URL's `sample-rate` query parameter, else 8000. */
  sampleRate?: StreamSampleRate;
  /** Default: the URL's query parameters other than `sample-rate`. */
  customParameters?: Record<string, string>;
  /** Audio per `media` message, in ms (default 100). */
  chunkMs?: number;
  /** What the caller says (default `'silence'`). */
  play?: AgentStreamPlay;
  /** The clock of the media pacing and playout timers (default: the system clock). */
  clock?: TimerClock;
  /** Extra headers of the upgrade request. */
  headers?: Record<string, string>;
  /** For `wss://`: the CA certificate(s) to trust besides the system's (e.g. a test PKI). */
  ca?: string | Buffer;
  /** Send `connected` once open (default true). */
  sendConnected?: boolean;
  /** Send `start` and begin media once open (default true); otherwise call `start()`. */
  autoStart?: boolean;
}

/** How the socket ended. */
export interface AgentStreamEnd {
  /** The WebSocket close code. */
  code: number;
  /** The close reason (empty when none was given). */
  reason: string;
}

/** Events of a {@link SimulatedAgentStream}. */
export interface SimulatedAgentStreamEvents {
  /** A `media` chunk from the bot, as received (before playout). */
  media: [samples: Int16Array];
  /** A mark we echoed to the bot (its audio has played). */
  mark: [name: string];
  /** The bot sent `clear`. */
  clear: [];
  /** The socket closed (once, after every timer was cleared). */
  closed: [end: AgentStreamEnd];
  /** The bot sent something malformed (counted, never thrown). */
  protocolError: [err: StreamProtocolError];
}

/** Where a {@link SimulatedAgentStream}'s socket is: `connecting` → `open` → `closing` → `closed`. */
export type AgentStreamState = 'connecting' | 'open' | 'closing' | 'closed';

const PLAYOUT_STEP_MS = 20;
/** Behind by more than this many chunks (a stalled loop, a clock jump): skip ahead. */
const MAX_CATCH_UP_CHUNKS = 5;
/** Bounds of what is recorded and queued: 5 minutes of audio at the stream rate. */
const MAX_AUDIO_SECONDS = 300;
const MAX_FRAME_BYTES = 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const ALIGN_BYTES = 320;
const DTMF_DIGIT = /^[0-9*#A-Da-d]$/;

/** The sample rate and custom parameters a stream URL implies. Throws `ConfigError`. */
export function parseStreamUrl(url: string): {
  sampleRate: StreamSampleRate;
  customParameters: Record<string, string>;
} {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new ConfigError(['stream url is not a URL'], { cause: err });
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:')
    throw new ConfigError(['stream url must be ws:// or wss://']);
  const rate = u.searchParams.get('sample-rate');
  let sampleRate: StreamSampleRate = 8000;
  if (rate !== null) {
    const n = Number(rate);
    if (!STREAM_SAMPLE_RATES.includes(n as StreamSampleRate))
      throw new ConfigError([`sample-rate ${JSON.stringify(rate)} is not 8000, 16000 or 24000`]);
    sampleRate = n as StreamSampleRate;
  }
  // fromEntries defines own properties: a "__proto__" parameter cannot reach the prototype
  const customParameters = Object.fromEntries([...u.searchParams].filter(([k]) => k !== 'sample-rate'));
  return { sampleRate, customParameters };
}

/** A random id: `prefix` and 32 hex digits. */
export function randomSid(prefix: string): string {
  return prefix + Buffer.from(cryptoRandom(16)).toString('hex');
}

/**
 * Opens an AgentStream to `opts.url` as Exotel would. Resolves once the socket is open and
 * `connected`/`start` were sent; rejects with `StreamProtocolError('closed')` when the
 * upgrade is refused (`upgrade refused: HTTP <status>`) or the connection fails, and with
 * `ConfigError` for bad options.
 */
export async function connectAgentStream(opts: AgentStreamClientOptions): Promise<SimulatedAgentStream> {
  const stream = new SimulatedAgentStream(opts);
  await stream.opened;
  return stream;
}

/**
 * The HTTP status of the answer to an upgrade request to `url` (101 when accepted; the
 * socket is then closed at once). Rejects with `StreamProtocolError('closed')` when no
 * answer came (connection refused, reset).
 */
export async function probeUpgrade(
  url: string,
  opts: { headers?: Record<string, string>; ca?: string | Buffer } = {},
): Promise<number> {
  parseStreamUrl(url);
  return new Promise<number>((resolve, reject) => {
    const ws = openSocket(url, opts.headers, opts.ca);
    let status: number | undefined;
    ws.on('unexpected-response', (_req, res) => {
      status = res.statusCode ?? 0;
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      status = 101;
      ws.terminate();
    });
    ws.on('error', (err) => {
      // after an answer, the error is ws reporting our own terminate() of the handshake
      if (status === undefined)
        reject(new StreamProtocolError('closed', `upgrade failed: ${err.message}`, { cause: err }));
    });
    ws.on('close', () => {
      if (status !== undefined) resolve(status);
    });
  });
}

/** One queued item of the playout: bot audio (partly played from `pos`) or a pending mark. */
type Queued = { samples: Int16Array; pos: number } | { mark: string };

/** Appends samples up to a bound; reads back as one array. */
class Recorder {
  private chunks: Int16Array[] = [];
  length = 0;
  constructor(private readonly max: number) {}
  append(s: Int16Array): void {
    const n = Math.min(s.length, this.max - this.length);
    if (n <= 0) return;
    this.chunks.push(s.slice(0, n));
    this.length += n;
  }
  read(): Int16Array {
    const out = new Int16Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.chunks = [out];
    return out.slice();
  }
}

/** One simulated AgentStream: the Exotel end of a call's WebSocket. */
export class SimulatedAgentStream extends EventEmitter<SimulatedAgentStreamEvents> {
  /** The stream's SID, as sent in `start`. */
  readonly streamSid: string;
  /** The call's SID, as sent in `start`. */
  readonly callSid: string;
  /** The stream's sample rate, both ways. */
  readonly sampleRate: StreamSampleRate;
  /** Resolves when the socket has closed (after every timer was cleared). */
  readonly ended: Promise<AgentStreamEnd>;
  /** @internal Resolves once open with `connected`/`start` sent; see {@link connectAgentStream}. */
  readonly opened: Promise<void>;
  /** Messages sent, of any kind (also `sendRaw`). */
  messagesSent = 0;
  /** Messages received by event: `media`, `mark`, `clear`, `unknown`, `malformed`. */
  readonly messagesReceived: Record<string, number> = {
    media: 0,
    mark: 0,
    clear: 0,
    unknown: 0,
    malformed: 0,
  };
  /** `clear` messages received. */
  clears = 0;
  /** Bot `media` chunks whose size is not a multiple of 320 bytes (played anyway). */
  unalignedMedia = 0;
  /** Bot samples dropped because the playout queue already held 5 minutes of audio. */
  droppedSamples = 0;

  private readonly ws: WebSocket;
  private readonly writer: ExotelEventWriter;
  private readonly clock: TimerClock;
  private readonly accountSid: string;
  private readonly from: string;
  private readonly to: string;
  private readonly customParameters: Record<string, string>;
  private readonly chunkMs: number;
  private readonly chunkSamples: number;
  private readonly maxSamples: number;
  private st: AgentStreamState = 'connecting';
  private refusedStatus: number | undefined;
  private resolveEnded!: (end: AgentStreamEnd) => void;
  // caller → bot
  private source: AgentStreamPlay;
  private sourcePos = 0;
  private started = false;
  private mediaOn = false;
  private stalled = false;
  private startedAt = 0;
  private mediaDeadline = 0;
  private mediaTimer: TimerHandle | undefined;
  // bot → caller
  private readonly queue: Queued[] = [];
  private queuedSamples = 0;
  private playTimer: TimerHandle | undefined;
  private playDeadline = 0;
  private readonly heard: Recorder;
  private readonly received: Recorder;

  /** @internal Use {@link connectAgentStream}. */
  constructor(opts: AgentStreamClientOptions) {
    super();
    const fromUrl = parseStreamUrl(opts.url);
    this.sampleRate = opts.sampleRate ?? fromUrl.sampleRate;
    if (!STREAM_SAMPLE_RATES.includes(this.sampleRate))
      throw new ConfigError([`sampleRate ${this.sampleRate} is not 8000, 16000 or 24000`]);
    this.chunkMs = opts.chunkMs ?? 100;
    this.chunkSamples = (this.sampleRate * this.chunkMs) / 1000;
    if (!Number.isInteger(this.chunkSamples) || this.chunkSamples <= 0 || this.chunkMs > 10_000)
      throw new ConfigError([
        `chunkMs ${this.chunkMs} is not a whole number of samples at ${this.sampleRate} Hz`,
      ]);
    this.callSid = opts.callSid ?? randomSid('CA');
    this.streamSid = opts.streamSid ?? randomSid('MZ');
    this.accountSid = opts.accountSid ?? 'ACsimulator';
    this.from = opts.from;
    this.to = opts.to;
    this.customParameters = opts.customParameters ?? fromUrl.customParameters;
    this.source = opts.play ?? 'silence';
    this.clock = opts.clock ?? systemTimerClock;
    this.writer = new ExotelEventWriter(this.streamSid);
    this.maxSamples = this.sampleRate * MAX_AUDIO_SECONDS;
    this.heard = new Recorder(this.maxSamples);
    this.received = new Recorder(this.maxSamples);
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));

    this.ws = openSocket(opts.url, opts.headers, opts.ca);
    this.opened = new Promise<void>((resolve, reject) => {
      this.ws.on('unexpected-response', (_req, res) => {
        this.refusedStatus = res.statusCode ?? 0;
        res.resume();
        this.ws.terminate();
      });
      this.ws.once('open', () => {
        this.st = 'open';
        if (opts.sendConnected !== false) this.send(this.writer.connected());
        if (opts.autoStart !== false) this.start();
        resolve();
      });
      this.ws.on('error', (err) => {
        if (this.st === 'connecting') {
          const msg =
            this.refusedStatus !== undefined
              ? `upgrade refused: HTTP ${this.refusedStatus}`
              : `connect failed: ${err.message}`;
          reject(new StreamProtocolError('closed', msg, { cause: err }));
        } else {
          this.protocolError(wsErrorReason(err), `WebSocket error: ${err.message}`, err);
        }
      });
      this.ws.on('close', (code, reason) => {
        if (this.st === 'connecting')
          reject(new StreamProtocolError('closed', `closed before open (${code})`));
        this.onClosed(code, reason.toString('utf8'));
      });
    });
    // a refused connect rejects `opened`; `ended` still resolves, so nothing is left unhandled
    this.opened.catch(() => undefined);
    this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
  }

  /** `'connecting' | 'open' | 'closing' | 'closed'`. */
  get state(): AgentStreamState {
    return this.st;
  }

  /**
   * Sends `start` and begins paced media (done for you unless `autoStart: false`). A
   * second call sends `start` again (a protocol violation a test may want); media pacing
   * is not restarted.
   */
  start(): void {
    this.ensureOpen();
    this.send(
      this.writer.start({
        callSid: this.callSid,
        accountSid: this.accountSid,
        from: this.from,
        to: this.to,
        customParameters: this.customParameters,
        sampleRate: this.sampleRate,
      }),
    );
    if (this.started) return;
    this.started = true;
    this.startedAt = this.clock.now();
    this.resumeMedia();
  }

  /** Changes what the caller says from the next chunk on. */
  play(source: AgentStreamPlay): void {
    this.source = source;
    this.sourcePos = 0;
  }

  /** Sends a `dtmf` event. Throws `ConfigError` for a character that is not a DTMF digit. */
  dtmf(digit: string, durationMs = 100): void {
    if (!DTMF_DIGIT.test(digit)) throw new ConfigError([`${JSON.stringify(digit)} is not a DTMF digit`]);
    this.ensureOpen();
    this.send(this.writer.dtmf(digit, durationMs));
  }

  /** Stops sending media (the socket stays open). */
  pauseMedia(): void {
    this.mediaOn = false;
    this.mediaTimer = clearTimer(this.clock, this.mediaTimer);
  }

  /** Sends media again, the next chunk one `chunkMs` from now (no burst). Ignored after `stall()`. */
  resumeMedia(): void {
    if (this.mediaOn || !this.started || this.stalled || this.st !== 'open') return;
    this.mediaOn = true;
    this.mediaDeadline = this.clock.now() + this.chunkMs;
    this.mediaTimer = this.clock.setTimeout(this.mediaTick, this.chunkMs);
  }

  /**
   * Sends nothing more and stops reading the socket, so the server's pings get no pong
   * (a hung Exotel). The socket is not closed: end it with `terminate()`; `ended`
   * resolves only then (a FIN from the server is not read while stalled).
   */
  stall(): void {
    this.stalled = true;
    this.pauseMedia();
    this.ws.pause();
  }

  /** Sends arbitrary data: a string as a text frame, a Buffer as a binary frame. */
  sendRaw(data: string | Buffer): void {
    this.ensureOpen();
    this.messagesSent++;
    this.ws.send(data, { binary: typeof data !== 'string' });
  }

  /** Sends `stop` (the call ended), then closes with 1000. */
  stop(reason = 'callended'): Promise<AgentStreamEnd> {
    if (this.st === 'open') this.send(this.writer.stop(this.callSid, reason, this.accountSid));
    return this.close(1000);
  }

  /** Closes without `stop`. Throws `ConfigError` for a code a WebSocket may not send. */
  close(code = 1000): Promise<AgentStreamEnd> {
    if (!isSendableCloseCode(code)) throw new ConfigError([`close code ${code} cannot be sent`]);
    this.stopTimers();
    if (this.st === 'open') {
      this.st = 'closing';
      this.ws.close(code);
    }
    return this.ended;
  }

  /** Drops the TCP connection without a close frame. */
  terminate(): Promise<AgentStreamEnd> {
    this.stopTimers();
    if (this.st !== 'closed') {
      this.st = 'closing';
      this.ws.terminate();
    }
    return this.ended;
  }

  /** Bot audio played so far (what the caller heard), at the stream rate. */
  heardSamples(): Int16Array {
    return this.heard.read();
  }

  /** Every bot sample received, played or not. */
  receivedSamples(): Int16Array {
    return this.received.read();
  }

  /** Milliseconds of bot audio played. */
  playedMs(): number {
    return (this.heard.length * 1000) / this.sampleRate;
  }

  /** Milliseconds of bot audio queued and not played yet. */
  queuedMs(): number {
    return (this.queuedSamples * 1000) / this.sampleRate;
  }

  // --- caller → bot ---

  private readonly mediaTick = (): void => {
    this.mediaTimer = undefined;
    if (!this.mediaOn || this.st !== 'open') return;
    const now = this.clock.now();
    const owed = Math.floor((now - this.mediaDeadline) / this.chunkMs) + 1;
    if (owed > MAX_CATCH_UP_CHUNKS) this.mediaDeadline += (owed - 1) * this.chunkMs;
    while (this.mediaDeadline <= now && this.st === 'open') {
      this.send(this.writer.media(this.nextChunk(), this.mediaDeadline - this.startedAt));
      this.mediaDeadline += this.chunkMs;
    }
    if (this.st === 'open' && this.mediaOn)
      this.mediaTimer = this.clock.setTimeout(this.mediaTick, this.mediaDeadline - now);
  };

  private nextChunk(): Int16Array {
    const n = this.chunkSamples;
    const src = this.source;
    if (src === 'silence') return new Int16Array(n);
    if ('toneHz' in src) {
      const out = generateTone(src.toneHz, this.sampleRate, n, src.amplitude ?? 8000, this.sourcePos);
      this.sourcePos += n;
      return out;
    }
    const out = new Int16Array(n);
    if (src.samples.length === 0) return out;
    for (let i = 0; i < n; i++) {
      out[i] = src.samples[this.sourcePos] ?? 0;
      this.sourcePos = (this.sourcePos + 1) % src.samples.length;
    }
    return out;
  }

  // --- bot → caller ---

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.st === 'closed') return;
    if (isBinary) {
      this.count('malformed');
      this.protocolError('bad-event', 'binary frame (AgentStream messages are JSON text)');
      return;
    }
    let ev: ReturnType<typeof parseBotEvent>;
    try {
      ev = parseBotEvent(rawText(data));
    } catch (err) {
      this.count('malformed');
      const e = err instanceof StreamProtocolError ? err : undefined;
      this.protocolError(e?.reason ?? 'bad-event', e?.message ?? String(err), err);
      return;
    }
    this.count(ev.event);
    switch (ev.event) {
      case 'media':
        return this.onMedia(ev.samples);
      case 'mark':
        if (this.queue.length === 0) this.echoMark(ev.name);
        else this.queue.push({ mark: ev.name });
        return;
      case 'clear':
        this.queue.length = 0;
        this.queuedSamples = 0;
        this.playTimer = clearTimer(this.clock, this.playTimer);
        this.clears++;
        this.emit('clear');
        return;
      case 'unknown':
        return;
    }
  }

  private onMedia(samples: Int16Array): void {
    if ((samples.length * 2) % ALIGN_BYTES !== 0) this.unalignedMedia++;
    this.received.append(samples);
    this.emit('media', samples);
    if (samples.length === 0) return;
    const room = this.maxSamples - this.queuedSamples;
    if (samples.length > room) {
      this.droppedSamples += samples.length - room;
      if (room <= 0) return;
      samples = samples.subarray(0, room);
    }
    this.queue.push({ samples, pos: 0 });
    this.queuedSamples += samples.length;
    if (this.playTimer === undefined) {
      this.playDeadline = this.clock.now() + PLAYOUT_STEP_MS;
      this.playTimer = this.clock.setTimeout(this.playTick, PLAYOUT_STEP_MS);
    }
  }

  private readonly playTick = (): void => {
    this.playTimer = undefined;
    if (this.st === 'closed') return;
    const now = this.clock.now();
    while (this.playDeadline <= now && this.queue.length > 0) {
      this.playStep();
      this.playDeadline += PLAYOUT_STEP_MS;
    }
    if (this.queue.length > 0) this.playTimer = this.clock.setTimeout(this.playTick, this.playDeadline - now);
  };

  /** Plays one 20 ms step; echoes the marks it reaches (also right after the last sample). */
  private playStep(): void {
    let budget = this.sampleRate / 50;
    while (this.queue.length > 0) {
      const front = this.queue[0]!;
      if ('mark' in front) {
        this.queue.shift();
        this.echoMark(front.mark);
        continue;
      }
      if (budget === 0) break;
      const take = Math.min(budget, front.samples.length - front.pos);
      this.heard.append(front.samples.subarray(front.pos, front.pos + take));
      front.pos += take;
      budget -= take;
      this.queuedSamples -= take;
      if (front.pos === front.samples.length) this.queue.shift();
    }
  }

  private echoMark(name: string): void {
    if (this.st !== 'open') return;
    this.send(this.writer.mark(name));
    this.emit('mark', name);
  }

  // --- plumbing ---

  private send(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.messagesSent++;
    this.ws.send(text);
  }

  private count(event: string): void {
    this.messagesReceived[event] = (this.messagesReceived[event] ?? 0) + 1;
  }

  private ensureOpen(): void {
    if (this.st !== 'open') throw new ClosedError('AgentStream');
  }

  private protocolError(reason: StreamProtocolError['reason'], message: string, cause?: unknown): void {
    this.emit('protocolError', new StreamProtocolError(reason, message, { cause }));
  }

  private stopTimers(): void {
    this.mediaOn = false;
    this.mediaTimer = clearTimer(this.clock, this.mediaTimer);
    this.playTimer = clearTimer(this.clock, this.playTimer);
  }

  private onClosed(code: number, reason: string): void {
    this.stopTimers();
    this.st = 'closed';
    this.queue.length = 0;
    this.queuedSamples = 0;
    const end = { code, reason };
    this.emit('closed', end);
    this.resolveEnded(end);
  }
}

/** A client socket as Exotel opens one: no compression, bounded frames. Throws `ConfigError`. */
function openSocket(url: string, headers: Record<string, string> = {}, ca?: string | Buffer): WebSocket {
  try {
    return new WebSocket(url, {
      headers,
      ...(ca !== undefined ? { ca } : {}),
      perMessageDeflate: false,
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
  } catch (err) {
    // ws builds the request synchronously: a header value with a newline throws here
    throw new ConfigError(
      [`cannot open a WebSocket to this URL: ${err instanceof Error ? err.message : String(err)}`],
      {
        cause: err,
      },
    );
  }
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/** ws errors carry stable codes: an oversized frame, or a frame that breaks RFC 6455. */
function wsErrorReason(err: Error): StreamProtocolError['reason'] {
  const code = (err as { code?: unknown }).code;
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return 'too-large';
  if (typeof code === 'string' && code.startsWith('WS_ERR_')) return 'bad-event';
  return 'closed';
}

function isSendableCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
      (code >= 3000 && code <= 4999))
  );
}
