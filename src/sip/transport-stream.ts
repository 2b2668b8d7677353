/**
 * One SIP stream connection (TCP or TLS): a socket, its own framer, RFC 5626 §4.4.1
 * keep-alives and a single close notification. Used by `SipTransport`; not exported
 * publicly.
 *
 * Keep-alives: a double CRLF "ping" received is answered with a single CRLF "pong" (on
 * every connection). On a connection we opened, with `keepalive` set, we ping after
 * `intervalMs` without receiving anything and expect the pong within `pongTimeoutMs`; once
 * the peer has answered a ping, a missing pong closes the connection (a peer that never
 * answers pings is not doing RFC 5626 pongs: its silence is no sign of death). Only received bytes restart the interval: sending
 * proves nothing about the peer.
 *
 * Every timer (connect, slow message, idle, keep-alive, forced close) runs on the injected
 * {@link TimerClock}, so all of them can be driven by a fake clock in tests.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { SipTransportError, toBridgeError, type BridgeError } from '../errors.js';
import type { SipFlow, SipKeepaliveResult } from './flow.js';
import { SipStreamFramer, type SipFramerBatch } from './framing.js';
import type { SipMessage } from './message.js';
import { heldUntilClose } from '../resources.js';
import { TimerSet, systemTimerClock, type TimerClock } from './timers.js';

/** What a connection reports to its owner. */
export interface StreamConnectionEvents {
  onOpen(conn: StreamConnection): void;
  onMessage(msg: SipMessage, conn: StreamConnection): void;
  onClose(conn: StreamConnection, error: BridgeError | undefined): void;
  /**
   * The framer rejected the input, a message or the connection timed out, or a keep-alive
   * went unanswered; it is being closed.
   */
  onBadInput(conn: StreamConnection, error: BridgeError, cause: StreamCloseCause): void;
  /** A keep-alive we sent was answered (or not: then the connection is being closed). */
  onKeepalive?(conn: StreamConnection, result: SipKeepaliveResult): void;
}

/** RFC 5626 §4.4.1 keep-alives sent on a connection we opened. */
export interface StreamKeepaliveOptions {
  /** Send a ping after this long without receiving anything (ms, > 0). */
  intervalMs: number;
  /** Close the connection when the pong has not come within this long (ms; default 10 000). */
  pongTimeoutMs?: number | undefined;
}

/** Default of {@link StreamKeepaliveOptions.pongTimeoutMs} (RFC 5626 §4.4.1: 10 s). */
export const DEFAULT_KEEPALIVE_PONG_TIMEOUT_MS = 10_000;

/** Options of {@link StreamConnection}. */
export interface StreamConnectionOptions {
  id: number;
  protocol: 'tcp' | 'tls';
  socket: Socket;
  /** Accepted by a listener (already connected) rather than opened by us. */
  inbound: boolean;
  maxMessageBytes: number;
  /** Fail the connect after this long (outbound only). */
  connectTimeoutMs?: number | undefined;
  /**
   * Close the connection when a message has been arriving for longer than this (a peer
   * that sends a message one byte at a time, "slow loris"). 0 = never.
   */
  messageTimeoutMs?: number | undefined;
  /** Close the connection after this long without a whole message or keep-alive. 0 = never. */
  idleTimeoutMs?: number | undefined;
  /** Send keep-alive pings (outbound connections only; ignored on inbound ones). */
  keepalive?: StreamKeepaliveOptions | undefined;
  /** The clock every timer runs on (default: the system clock). */
  clock?: TimerClock | undefined;
  events: StreamConnectionEvents;
}

/** Why a connection was closed by us rather than by the peer. */
export type StreamCloseCause = 'bad-input' | 'slow-message' | 'idle' | 'keepalive';

type StreamTimer = 'connect' | 'message' | 'idle' | 'keepalive' | 'pong' | 'force-close';

const PING = new Uint8Array([13, 10, 13, 10]);
const PONG = new Uint8Array([13, 10]);
/** How long `end()` waits for the peer's FIN before destroying the socket. */
const FORCE_CLOSE_MS = 1000;

/** A framed SIP connection. */
export class StreamConnection {
  readonly id: number;
  readonly protocol: 'tcp' | 'tls';
  /** Resolves once the connection can carry data (TLS: after the handshake). */
  readonly ready: Promise<void>;
  /** Resolves once the socket is closed, whatever the reason. Never rejects. */
  readonly closed: Promise<void>;
  private readonly socket: Socket;
  private readonly framer: SipStreamFramer;
  private readonly events: StreamConnectionEvents;
  private readonly clock: TimerClock;
  private readonly timers: TimerSet<StreamTimer>;
  private state: 'connecting' | 'open' | 'closed' = 'connecting';
  private closeError: BridgeError | undefined;
  private currentFlow: SipFlow;
  private readonly messageTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly keepaliveIntervalMs: number;
  private readonly pongTimeoutMs: number;
  /** Whether the peer has answered a ping on this connection: only then does a missing pong mean it is gone. */
  private pongSeen = false;
  /** When the outstanding ping was sent (clock ms), or `undefined` when none is. */
  private pingSentAt: number | undefined;

  constructor(opts: StreamConnectionOptions) {
    this.id = opts.id;
    this.protocol = opts.protocol;
    this.socket = opts.socket;
    this.events = opts.events;
    this.clock = opts.clock ?? systemTimerClock;
    this.timers = new TimerSet<StreamTimer>(this.clock);
    this.framer = new SipStreamFramer({ maxMessageBytes: opts.maxMessageBytes });
    this.messageTimeoutMs = opts.messageTimeoutMs ?? 0;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 0;
    const ka = opts.inbound ? undefined : opts.keepalive;
    this.keepaliveIntervalMs = ka !== undefined && ka.intervalMs > 0 ? ka.intervalMs : 0;
    this.pongTimeoutMs =
      ka?.pongTimeoutMs !== undefined && ka.pongTimeoutMs > 0
        ? ka.pongTimeoutMs
        : DEFAULT_KEEPALIVE_PONG_TIMEOUT_MS;
    this.currentFlow = this.readFlow();
    const sock = opts.socket;
    heldUntilClose('sip-socket', sock);
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 30_000);

    let resolveReady!: () => void;
    let rejectReady!: (e: BridgeError) => void;
    this.ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    // Whoever sends awaits `ready` and sees the rejection; this only keeps a connection
    // that nobody awaited (an inbound one closing early) from an unhandled rejection.
    this.ready.catch(() => undefined);
    let resolveClosed!: () => void;
    this.closed = new Promise<void>((res) => (resolveClosed = res));

    const opened = (): void => {
      this.timers.stop('connect');
      if (this.state !== 'connecting') return;
      this.state = 'open';
      this.currentFlow = this.readFlow();
      this.armIdle();
      this.armKeepalive();
      this.events.onOpen(this);
      resolveReady();
    };
    if (opts.inbound) {
      // A TLS server socket is handed over after its handshake; a TCP one is connected.
      queueMicrotask(opened);
    } else {
      sock.once(sock instanceof TLSSocket ? 'secureConnect' : 'connect', opened);
      if (opts.connectTimeoutMs !== undefined) {
        this.timers.start('connect', opts.connectTimeoutMs, () => {
          this.fail(new SipTransportError(`connect timed out after ${opts.connectTimeoutMs} ms`));
        });
      }
    }
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', (err) => {
      this.closeError ??= new SipTransportError(`${this.protocol} connection error: ${err.message}`, {
        cause: err,
      });
    });
    sock.on('end', () => {
      // The peer closed its side: close ours too (SIP has no use for half-open).
      if (this.state !== 'closed') sock.end();
    });
    sock.once('close', () => {
      this.timers.clearAll();
      this.pingSentAt = undefined;
      const wasConnecting = this.state === 'connecting';
      this.state = 'closed';
      const error =
        this.closeError ??
        (wasConnecting ? new SipTransportError('connection closed before it opened') : undefined);
      if (wasConnecting) rejectReady(error ?? new SipTransportError('connection closed'));
      this.events.onClose(this, error);
      resolveClosed();
    });
  }

  /** Addresses of this connection (filled in once connected). */
  get flow(): SipFlow {
    return this.currentFlow;
  }

  /** The connection carries data. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** The connection is gone. */
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Writes bytes; rejects with `SipTransportError` when the connection is (or goes) down. */
  async write(bytes: Uint8Array): Promise<void> {
    await this.ready;
    if (this.state !== 'open') throw new SipTransportError(`${this.protocol} connection is closed`);
    await new Promise<void>((resolve, reject) => {
      this.socket.write(bytes, (err) =>
        err
          ? reject(new SipTransportError(`${this.protocol} write failed: ${err.message}`, { cause: err }))
          : resolve(),
      );
    });
  }

  /** Closes gracefully (FIN), forcing it shortly after if the peer does not answer. */
  end(): void {
    if (this.state === 'closed') return;
    this.socket.end();
    if (!this.timers.running('force-close')) {
      this.timers.start('force-close', FORCE_CLOSE_MS, () => this.socket.destroy());
    }
  }

  /** Closes at once. */
  destroy(): void {
    if (this.state !== 'closed') this.socket.destroy();
  }

  private armIdle(): void {
    if (this.idleTimeoutMs <= 0 || this.state !== 'open') return;
    this.timers.start('idle', this.idleTimeoutMs, () => {
      this.close(
        new SipTransportError(`no SIP message for ${this.idleTimeoutMs} ms: connection closed`),
        'idle',
      );
    });
  }

  /** (Re)starts the wait before the next ping, unless a ping is outstanding. */
  private armKeepalive(): void {
    if (this.keepaliveIntervalMs <= 0 || this.state !== 'open' || this.pingSentAt !== undefined) return;
    this.timers.start('keepalive', this.keepaliveIntervalMs, () => this.sendPing());
  }

  private sendPing(): void {
    if (this.state !== 'open') return;
    this.pingSentAt = this.clock.now();
    this.timers.start('pong', this.pongTimeoutMs, () => {
      if (!this.pongSeen) {
        // This peer has never answered a ping: it does not do RFC 5626 pongs (plenty of
        // servers don't). The pings still keep NAT bindings open; silence proves nothing.
        this.pingSentAt = undefined;
        this.armKeepalive();
        return;
      }
      this.keepaliveFailed(
        new SipTransportError(
          `no keep-alive pong within ${this.pongTimeoutMs} ms (RFC 5626): connection closed`,
        ),
      );
    });
    this.socket.write(PING, (err) => {
      if (err) {
        this.keepaliveFailed(
          new SipTransportError(`${this.protocol} keep-alive write failed: ${err.message}`, { cause: err }),
        );
      }
    });
  }

  private pongReceived(): void {
    const sentAt = this.pingSentAt;
    if (sentAt === undefined) return; // a pong nobody asked for: nothing to measure
    this.pingSentAt = undefined;
    this.pongSeen = true;
    this.timers.stop('pong');
    // The next CRLF is a new pong, not the second half of a ping.
    this.framer.pongTaken();
    this.armKeepalive();
    this.events.onKeepalive?.(this, { ok: true, rttMs: this.clock.now() - sentAt });
  }

  private keepaliveFailed(error: BridgeError): void {
    if (this.pingSentAt === undefined || this.state === 'closed') return;
    this.pingSentAt = undefined;
    this.timers.stop('pong');
    this.events.onKeepalive?.(this, { ok: false, error });
    this.close(error, 'keepalive');
  }

  /** A message is arriving: it must be whole within `messageTimeoutMs`. */
  private watchPartial(): void {
    if (this.messageTimeoutMs <= 0) return;
    if (this.framer.bufferedBytes === 0) {
      this.timers.stop('message');
      return;
    }
    if (this.timers.running('message')) return;
    this.timers.start('message', this.messageTimeoutMs, () => {
      this.close(
        new SipTransportError(
          `a SIP message took longer than ${this.messageTimeoutMs} ms to arrive (${this.framer.bufferedBytes} bytes so far): connection closed`,
        ),
        'slow-message',
      );
    });
  }

  private close(error: BridgeError, cause: StreamCloseCause): void {
    if (this.state === 'closed') return;
    this.events.onBadInput(this, error, cause);
    this.fail(error);
  }

  private fail(error: BridgeError): void {
    this.closeError ??= error;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    let result: SipFramerBatch;
    try {
      result = this.framer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    } catch (err) {
      // The framer throws our typed errors; anything else is a bug, reported as INTERNAL.
      this.close(toBridgeError(err), 'bad-input');
      return;
    }
    this.watchPartial();
    if (result.messages.length > 0 || result.keepAlivePings > 0) this.armIdle();
    if (result.keepAlivePings > 0 && this.state === 'open') this.socket.write(PONG);
    if (result.keepAlivePongs > 0) this.pongReceived();
    // Anything received shows the peer is there: the next ping waits a full interval.
    this.armKeepalive();
    for (const msg of result.messages) {
      if (this.isClosed) return;
      this.events.onMessage(msg, this);
    }
  }

  private readFlow(): SipFlow {
    const s = this.socket;
    return {
      protocol: this.protocol,
      remoteAddress: normalizeAddress(s.remoteAddress ?? ''),
      remotePort: s.remotePort ?? 0,
      localAddress: normalizeAddress(s.localAddress ?? ''),
      localPort: s.localPort ?? 0,
      connectionId: this.id,
    };
  }
}

/** `::ffff:1.2.3.4` → `1.2.3.4`. */
function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
