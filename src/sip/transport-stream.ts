/**
 * One SIP stream connection (TCP or TLS): a socket, its own framer, keep-alive answers
 * (RFC 5626 §4.4.1: a double CRLF "ping" is answered with a single CRLF "pong") and a
 * single close notification. Used by `SipTransport`; not exported publicly.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { BridgeError, SipTransportError } from '../errors.js';
import type { SipMessage } from './message.js';
import { SipStreamFramer } from './framing.js';
import type { SipFlow } from './flow.js';

/** What a connection reports to its owner. */
export interface StreamConnectionEvents {
  onOpen(conn: StreamConnection): void;
  onMessage(msg: SipMessage, conn: StreamConnection): void;
  onClose(conn: StreamConnection, error: BridgeError | undefined): void;
  /** The framer rejected the input, or a message or the connection timed out; it is being closed. */
  onBadInput(conn: StreamConnection, error: BridgeError, cause: StreamCloseCause): void;
}

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
  events: StreamConnectionEvents;
}

/** Why a connection was closed by us rather than by the peer. */
export type StreamCloseCause = 'bad-input' | 'slow-message' | 'idle';

const PONG = new Uint8Array([13, 10]);

/** A framed SIP connection. */
export class StreamConnection {
  readonly id: number;
  readonly protocol: 'tcp' | 'tls';
  /** Resolves once the connection can carry data (TLS: after the handshake). */
  readonly ready: Promise<void>;
  /** Resolves once the socket is closed, whatever the reason. */
  readonly closed: Promise<void>;
  private readonly socket: Socket;
  private readonly framer: SipStreamFramer;
  private readonly events: StreamConnectionEvents;
  private state: 'connecting' | 'open' | 'closed' = 'connecting';
  private closeError: BridgeError | undefined;
  private currentFlow: SipFlow;
  private readonly messageTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private messageTimer: ReturnType<typeof setTimeout> | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(opts: StreamConnectionOptions) {
    this.id = opts.id;
    this.protocol = opts.protocol;
    this.socket = opts.socket;
    this.events = opts.events;
    this.framer = new SipStreamFramer({ maxMessageBytes: opts.maxMessageBytes });
    this.messageTimeoutMs = opts.messageTimeoutMs ?? 0;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 0;
    this.currentFlow = this.readFlow();
    const sock = opts.socket;
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 30_000);

    let resolveReady!: () => void;
    let rejectReady!: (e: BridgeError) => void;
    this.ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    this.ready.catch(() => undefined);
    let resolveClosed!: () => void;
    this.closed = new Promise<void>((res) => (resolveClosed = res));

    let timer: ReturnType<typeof setTimeout> | undefined;
    const opened = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      if (this.state !== 'connecting') return;
      this.state = 'open';
      this.currentFlow = this.readFlow();
      this.armIdle();
      this.events.onOpen(this);
      resolveReady();
    };
    if (opts.inbound) {
      // A TLS server socket is handed over after its handshake; a TCP one is connected.
      queueMicrotask(opened);
    } else {
      sock.once(sock instanceof TLSSocket ? 'secureConnect' : 'connect', opened);
      if (opts.connectTimeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.fail(new SipTransportError(`connect timed out after ${opts.connectTimeoutMs} ms`));
        }, opts.connectTimeoutMs);
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
      if (timer !== undefined) clearTimeout(timer);
      this.clearTimers();
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
    const t = setTimeout(() => this.socket.destroy(), 1000);
    t.unref();
    void this.closed.then(() => clearTimeout(t));
  }

  /** Closes at once. */
  destroy(): void {
    if (this.state !== 'closed') this.socket.destroy();
  }

  private clearTimers(): void {
    if (this.messageTimer !== undefined) clearTimeout(this.messageTimer);
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.messageTimer = undefined;
    this.idleTimer = undefined;
  }

  private armIdle(): void {
    if (this.idleTimeoutMs <= 0 || this.state !== 'open') return;
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      this.close(
        new SipTransportError(`no SIP message for ${this.idleTimeoutMs} ms: connection closed`),
        'idle',
      );
    }, this.idleTimeoutMs);
    this.idleTimer.unref();
  }

  /** A message is arriving: it must be whole within `messageTimeoutMs`. */
  private watchPartial(): void {
    if (this.messageTimeoutMs <= 0) return;
    if (this.framer.bufferedBytes === 0) {
      if (this.messageTimer !== undefined) clearTimeout(this.messageTimer);
      this.messageTimer = undefined;
      return;
    }
    if (this.messageTimer !== undefined) return;
    this.messageTimer = setTimeout(() => {
      this.messageTimer = undefined;
      this.close(
        new SipTransportError(
          `a SIP message took longer than ${this.messageTimeoutMs} ms to arrive (${this.framer.bufferedBytes} bytes so far): connection closed`,
        ),
        'slow-message',
      );
    }, this.messageTimeoutMs);
    this.messageTimer.unref();
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
    let result;
    try {
      result = this.framer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    } catch (err) {
      const e = err instanceof BridgeError ? err : new SipTransportError('framing failed', { cause: err });
      this.close(e, 'bad-input');
      return;
    }
    this.watchPartial();
    if (result.messages.length > 0 || result.keepAlivePings > 0) this.armIdle();
    if (result.keepAlivePings > 0 && this.state === 'open') this.socket.write(PONG);
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
