/**
 * SIP transports (RFC 3261 §18): UDP, TCP and TLS over one object.
 *
 * - One UDP socket bound to `bindIp:port` sends and receives every datagram, so the far
 *   end's responses and requests come back to the advertised port (symmetric signalling).
 * - Stream connections (TCP, TLS) live in a pool keyed by remote address: the connection
 *   opened for a call is reused for its ACK, BYE and responses, and an incoming
 *   connection is found again by its remote address. Each connection has its own framer.
 * - Listeners on `port` accept requests from the trunk on new connections (TCP, and TLS
 *   when a server certificate is given), bounded in number.
 *
 * The transport knows nothing of transactions: it reports every whole message upward
 * through {@link SipTransportListener}. Framing or parse errors close only the
 * connection they came from (a bad datagram is dropped).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { createServer, connect as netConnect, isIP, type Server, type Socket } from 'node:net';
import {
  connect as tlsConnect,
  createServer as createTlsServer,
  type ConnectionOptions,
  type TlsOptions,
} from 'node:tls';
import { SipTransportError, toBridgeError, type BridgeError } from '../errors.js';
import { LogThrottle, silentLogger, type Logger } from '../logger.js';
import { heldUntilClose } from '../resources.js';
import type { SipMessage } from './message.js';
import { parseSipMessage } from './parser.js';
import { serializeSipMessage } from './serializer.js';
import type { SipFlow, SipKeepaliveResult, SipTarget, SipTransportProtocol } from './flow.js';
import { systemTimerClock, type TimerClock } from './timers.js';
import {
  StreamConnection,
  type StreamConnectionEvents,
  type StreamKeepaliveOptions,
} from './transport-stream.js';

// The flow types live in ./flow.ts (shared with the stream connection and the layers
// above, without a cycle); re-exported here so existing importers keep working.
export {
  isReliable,
  type SipFlow,
  type SipKeepaliveResult,
  type SipStreamProtocol,
  type SipTarget,
  type SipTransportProtocol,
} from './flow.js';
export { DEFAULT_KEEPALIVE_PONG_TIMEOUT_MS, type StreamKeepaliveOptions } from './transport-stream.js';

/** What the transport reports upward. */
export interface SipTransportListener {
  /** A whole SIP message arrived. */
  onMessage(msg: SipMessage, flow: SipFlow): void;
  /** A stream connection closed (`error` set when it failed or was reset). */
  onConnectionClosed?(flow: SipFlow, error: BridgeError | undefined): void;
  /**
   * A keep-alive ping we sent on a connection we opened was answered (`rttMs` from ping to
   * pong, on the transport's clock), or was not: then `ok` is false and the connection is
   * being closed (`onConnectionClosed` follows with the same error). Only with the
   * `keepalive` option.
   */
  onKeepalive?(flow: SipFlow, result: SipKeepaliveResult): void;
}

/** Options of {@link SipTransport}. */
export interface SipTransportOptions {
  /** Local IP every socket binds to. */
  bindIp: string;
  /** The SIP port to listen on (0 = any free port, the same for every listener). */
  port: number;
  /** Which listeners to open on `port` (UDP is always bound when `udp` is listed). */
  listen: readonly SipTransportProtocol[];
  /** Options for outgoing TLS connections (certificate verification stays on unless you turn it off). */
  tls?: ConnectionOptions;
  /** Key and certificate for a TLS listener; without them no TLS listener is opened. */
  tlsServer?: TlsOptions;
  /** Largest SIP message accepted (bytes); bigger ones close the connection / are dropped. */
  maxMessageBytes?: number;
  /** At most this many connections accepted by the listeners at once (default 64). */
  maxInboundConnections?: number;
  /** Connect timeout for outgoing stream connections (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * A message on a stream connection must arrive whole within this long once its first
   * byte came (default 10 s; 0 = no limit): a slow-loris peer is cut off.
   */
  messageTimeoutMs?: number;
  /** Connections accepted by a listener are closed after this long without a message (default 300 s; 0 = never). */
  inboundIdleTimeoutMs?: number;
  /**
   * RFC 5626 §4.4.1 CRLF keep-alives on the TCP/TLS connections we open: after
   * `intervalMs` without receiving anything, send a double-CRLF ping; without the CRLF pong
   * within `pongTimeoutMs` (default 10 s) the connection is closed with a
   * `SipTransportError`. Results are reported through `onKeepalive`. Connections accepted
   * by the listeners only answer pings; UDP has none.
   */
  keepalive?: StreamKeepaliveOptions;
  /** The clock every transport timer runs on (default: the system clock). */
  clock?: TimerClock;
  logger?: Logger;
}

/** Counters of what the transport refused or dropped (cumulative). */
export interface SipTransportStats {
  /** Datagrams dropped: larger than the message limit. */
  oversizeDatagrams: number;
  /** Datagrams dropped: not a SIP message. */
  malformedDatagrams: number;
  /** Connections refused at accept (over `maxInboundConnections`). */
  connectionsRefused: number;
  /** Connections closed after bad input (framing or parse error, oversize message, too many headers). */
  connectionsClosedBadInput: number;
  /** Connections closed because a message took longer than `messageTimeoutMs`. */
  connectionsClosedSlow: number;
  /** Inbound connections closed after `inboundIdleTimeoutMs` without a message. */
  connectionsClosedIdle: number;
  /** Connections we opened closed because a keep-alive ping went unanswered. */
  connectionsClosedKeepalive: number;
}

/**
 * How long a SIP message on a stream connection may take to arrive whole once its first
 * byte came, in ms (a slow peer is then cut off).
 */
export const DEFAULT_SIP_MESSAGE_TIMEOUT_MS = 10_000;
/** How long a connection accepted by our SIP listener may stay without a message before it is closed, in ms. */
export const DEFAULT_SIP_INBOUND_IDLE_TIMEOUT_MS = 300_000;

/** Largest SIP message accepted by default, in bytes; a bigger one closes its connection (UDP: is dropped). */
export const DEFAULT_MAX_SIP_MESSAGE_BYTES = 65_535;

const key = (protocol: SipTransportProtocol, host: string, port: number): string =>
  `${protocol}|${host.toLowerCase()}|${port}`;

/** UDP, TCP and TLS sockets of one SIP endpoint, with a connection pool. */
export class SipTransport {
  private readonly log: Logger;
  private readonly clock: TimerClock;
  private readonly maxBytes: number;
  private udp: UdpSocket | undefined;
  private udpBinding: Promise<number> | undefined;
  private tcpServer: Server | undefined;
  private tlsServer: Server | undefined;
  private boundPort = 0;
  private nextId = 1;
  private readonly connections = new Map<number, StreamConnection>();
  private readonly byKey = new Map<string, StreamConnection>();
  private inbound = 0;
  private readonly throttle = new LogThrottle();
  private readonly counters: SipTransportStats = {
    oversizeDatagrams: 0,
    malformedDatagrams: 0,
    connectionsRefused: 0,
    connectionsClosedBadInput: 0,
    connectionsClosedSlow: 0,
    connectionsClosedIdle: 0,
    connectionsClosedKeepalive: 0,
  };
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly opts: SipTransportOptions,
    private readonly listener: SipTransportListener,
  ) {
    this.log = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemTimerClock;
    this.maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_SIP_MESSAGE_BYTES;
  }

  /** The bound SIP port (after `start()`). */
  get port(): number {
    return this.boundPort;
  }

  /** Number of open stream connections (both directions). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** What was refused or dropped so far (a copy). */
  stats(): SipTransportStats {
    return { ...this.counters };
  }

  /** Opens the UDP socket and the listeners. Idempotent. */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    if (this.closed) throw new SipTransportError('transport is closed');
    const wanted = new Set(this.opts.listen);
    let port = this.opts.port;
    for (let attempt = 0; ; attempt++) {
      try {
        if (wanted.has('udp')) port = await this.bindUdp(port);
        if (wanted.has('tcp')) port = await this.listenStream('tcp', port);
        if (wanted.has('tls') && this.opts.tlsServer) port = await this.listenStream('tls', port);
        this.boundPort = port;
        return;
      } catch (err) {
        await this.closeListeners();
        // With port 0 the first bind picks a port the others may not get: try again.
        if (this.opts.port !== 0 || attempt >= 5) {
          throw new SipTransportError(
            `cannot listen on ${this.opts.bindIp}:${this.opts.port}: ${toBridgeError(err).message}`,
            { cause: err },
          );
        }
        port = 0;
      }
    }
  }

  private bindUdp(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const sock = createSocket({ type: isIP(this.opts.bindIp) === 6 ? 'udp6' : 'udp4' });
      heldUntilClose('listener', sock);
      const onError = (err: Error): void => {
        sock.close();
        reject(err);
      };
      sock.once('error', onError);
      sock.bind(port, this.opts.bindIp, () => {
        sock.off('error', onError);
        if (this.closed) {
          sock.close();
          reject(new SipTransportError('transport is closed'));
          return;
        }
        sock.on('error', (err) => this.log.warn({ err: err.message }, '[SIP] UDP socket error'));
        sock.on('message', (data, rinfo) => this.onDatagram(data, rinfo.address, rinfo.port));
        this.udp = sock;
        resolve(sock.address().port);
      });
    });
  }

  private listenStream(protocol: 'tcp' | 'tls', port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onConnection = (socket: Socket): void => this.accept(protocol, socket);
      const server =
        protocol === 'tls'
          ? createTlsServer(this.opts.tlsServer ?? {}, onConnection)
          : createServer(onConnection);
      server.once('error', reject);
      server.listen({ port, host: this.opts.bindIp, exclusive: true }, () => {
        server.off('error', reject);
        heldUntilClose('listener', server);
        server.on('error', (err) => this.log.warn({ err: err.message }, `[SIP] ${protocol} listener error`));
        if (protocol === 'tls') this.tlsServer = server;
        else this.tcpServer = server;
        const addr = server.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
      });
    });
  }

  private accept(protocol: 'tcp' | 'tls', socket: Socket): void {
    const max = this.opts.maxInboundConnections ?? 64;
    if (this.closed || this.inbound >= max) {
      if (!this.closed) this.counters.connectionsRefused++;
      const skipped = this.throttle.take('refused');
      if (skipped !== undefined) {
        this.log.warn(
          { remote: `${socket.remoteAddress}:${socket.remotePort}`, alsoRefusedSinceLastLine: skipped },
          '[SIP] connection refused (limit)',
        );
      }
      socket.destroy();
      return;
    }
    this.inbound++;
    const conn = this.adopt(protocol, socket, true);
    conn.closed.then(
      () => this.inbound--,
      () => this.inbound--,
    );
  }

  /** Sends a message; resolves with the flow it went on, or rejects with `SipTransportError`. */
  async send(msg: SipMessage, target: SipTarget): Promise<SipFlow> {
    if (this.closed) throw new SipTransportError('transport is closed');
    const bytes = serializeSipMessage(msg);
    if (target.protocol === 'udp') return this.sendUdp(bytes, target.host, target.port);
    const conn = await this.connectionFor(target);
    await conn.write(bytes);
    return conn.flow;
  }

  /** The open connection a flow travelled on, if it is still open. */
  hasOpenConnection(flow: SipFlow | undefined): boolean {
    if (flow?.connectionId === undefined) return false;
    return this.connections.get(flow.connectionId)?.isOpen === true;
  }

  /** An open (or opening) connection to that protocol/host/port, if any. */
  findConnection(protocol: SipTransportProtocol, host: string, port: number): SipFlow | undefined {
    const c = this.byKey.get(key(protocol, host, port));
    return c !== undefined && !c.isClosed ? c.flow : undefined;
  }

  /** Closes one stream connection (e.g. a test or a dead peer). */
  closeConnection(flow: SipFlow): void {
    if (flow.connectionId !== undefined) this.connections.get(flow.connectionId)?.destroy();
  }

  private async connectionFor(target: SipTarget): Promise<StreamConnection> {
    const protocol = target.protocol as 'tcp' | 'tls';
    if (target.flow?.connectionId !== undefined) {
      const c = this.connections.get(target.flow.connectionId);
      if (c !== undefined && !c.isClosed && c.protocol === protocol) {
        await c.ready;
        return c;
      }
    }
    const existing = this.byKey.get(key(protocol, target.host, target.port));
    if (existing !== undefined && !existing.isClosed) {
      await existing.ready;
      return existing;
    }
    return this.open(protocol, target.host, target.port);
  }

  private async open(protocol: 'tcp' | 'tls', host: string, port: number): Promise<StreamConnection> {
    this.log.debug({ protocol, host, port }, '[SIP] opening connection');
    const localAddress =
      isIP(this.opts.bindIp) !== 0 && !isAnyAddress(this.opts.bindIp) ? this.opts.bindIp : undefined;
    const socket =
      protocol === 'tls'
        ? tlsConnect({
            host,
            port,
            ...(isIP(host) === 0 ? { servername: host } : {}),
            ...(localAddress !== undefined ? { localAddress } : {}),
            ...this.opts.tls,
          })
        : netConnect({ host, port, ...(localAddress !== undefined ? { localAddress } : {}) });
    const conn = this.adopt(protocol, socket, false, this.opts.connectTimeoutMs ?? 10_000);
    this.byKey.set(key(protocol, host, port), conn);
    // `ready` rejects with a SipTransportError naming what failed (refused, timed out, TLS).
    await conn.ready;
    return conn;
  }

  private adopt(
    protocol: 'tcp' | 'tls',
    socket: Socket,
    inbound: boolean,
    connectTimeoutMs?: number,
  ): StreamConnection {
    const id = this.nextId++;
    const events: StreamConnectionEvents = {
      onOpen: (c) => {
        this.byKey.set(key(protocol, c.flow.remoteAddress, c.flow.remotePort), c);
        this.log.debug(
          { id, remote: `${c.flow.remoteAddress}:${c.flow.remotePort}`, inbound },
          '[SIP] connection open',
        );
      },
      onMessage: (msg, c) => this.deliver(msg, c.flow),
      onClose: (c, error) => {
        this.connections.delete(id);
        for (const [k, v] of this.byKey) if (v === c) this.byKey.delete(k);
        this.log.debug({ id, error: error?.message }, '[SIP] connection closed');
        if (!this.closed) this.listener.onConnectionClosed?.(c.flow, error);
      },
      onBadInput: (c, error, cause) => {
        if (cause === 'slow-message') this.counters.connectionsClosedSlow++;
        else if (cause === 'idle') this.counters.connectionsClosedIdle++;
        else if (cause === 'keepalive') this.counters.connectionsClosedKeepalive++;
        else this.counters.connectionsClosedBadInput++;
        const skipped = this.throttle.take(`close-${cause}`);
        if (skipped !== undefined) {
          this.log.warn(
            {
              id,
              remote: `${c.flow.remoteAddress}:${c.flow.remotePort}`,
              err: error.message,
              cause,
              alsoClosedSinceLastLine: skipped,
            },
            '[SIP] closing connection',
          );
        }
      },
      onKeepalive: (c, result) => {
        if (this.closed) return;
        try {
          this.listener.onKeepalive?.(c.flow, result);
        } catch (err) {
          // A bug upstream must not take the connection down with it.
          this.log.error(
            { err: toBridgeError(err).message, code: 'INTERNAL' },
            '[SIP] keep-alive handler failed',
          );
        }
      },
    };
    const conn = new StreamConnection({
      id,
      protocol,
      socket,
      inbound,
      maxMessageBytes: this.maxBytes,
      connectTimeoutMs,
      messageTimeoutMs: this.opts.messageTimeoutMs ?? DEFAULT_SIP_MESSAGE_TIMEOUT_MS,
      idleTimeoutMs: inbound ? (this.opts.inboundIdleTimeoutMs ?? DEFAULT_SIP_INBOUND_IDLE_TIMEOUT_MS) : 0,
      keepalive: inbound ? undefined : this.opts.keepalive,
      clock: this.clock,
      events,
    });
    this.connections.set(id, conn);
    return conn;
  }

  private deliver(msg: SipMessage, flow: SipFlow): void {
    try {
      this.listener.onMessage(msg, flow);
    } catch (err) {
      // A bug upstream must not take the socket down with it.
      this.log.error({ err: toBridgeError(err).message, code: 'INTERNAL' }, '[SIP] message handler failed');
    }
  }

  private onDatagram(data: Buffer, address: string, port: number): void {
    // Keep-alives (CRLF, double CRLF) and stray bytes shorter than a start line.
    if (data.length < 16) return;
    if (data.length > this.maxBytes) {
      this.counters.oversizeDatagrams++;
      const skipped = this.throttle.take('oversize');
      if (skipped !== undefined) {
        this.log.warn(
          { from: `${address}:${port}`, bytes: data.length, alsoDroppedSinceLastLine: skipped },
          '[SIP] oversized datagram dropped',
        );
      }
      return;
    }
    let msg: SipMessage;
    try {
      msg = parseSipMessage(new Uint8Array(data.buffer, data.byteOffset, data.length), {
        transport: 'datagram',
      });
    } catch (err) {
      this.counters.malformedDatagrams++;
      const skipped = this.throttle.take('malformed');
      if (skipped !== undefined) {
        this.log.warn(
          { from: `${address}:${port}`, err: toBridgeError(err).message, alsoDroppedSinceLastLine: skipped },
          '[SIP] bad datagram dropped',
        );
      }
      return;
    }
    const local = this.udp?.address();
    this.deliver(msg, {
      protocol: 'udp',
      remoteAddress: address,
      remotePort: port,
      localAddress: local?.address ?? this.opts.bindIp,
      localPort: local?.port ?? this.boundPort,
      connectionId: undefined,
    });
  }

  private async sendUdp(bytes: Uint8Array, host: string, port: number): Promise<SipFlow> {
    if (this.udp === undefined) {
      // Sending over UDP without a UDP listener: bind one on an ephemeral port.
      this.udpBinding ??= this.bindUdp(0);
      await this.udpBinding;
    }
    const sock = this.udp;
    if (sock === undefined || this.closed) throw new SipTransportError('transport is closed');
    const address = isIP(host) !== 0 ? host : await this.resolve(host);
    await new Promise<void>((resolve, reject) => {
      sock.send(bytes, port, address, (err) =>
        err
          ? reject(
              new SipTransportError(`UDP send to ${address}:${port} failed: ${err.message}`, { cause: err }),
            )
          : resolve(),
      );
    });
    const local = sock.address();
    return {
      protocol: 'udp',
      remoteAddress: address,
      remotePort: port,
      localAddress: local.address,
      localPort: local.port,
      connectionId: undefined,
    };
  }

  /** The address of a host name, in the family of `bindIp`; a failed lookup is a transport error. */
  private async resolve(host: string): Promise<string> {
    try {
      return (await lookup(host, { family: isIP(this.opts.bindIp) === 6 ? 6 : 4 })).address;
    } catch (err) {
      throw new SipTransportError(`cannot resolve ${host}: ${toBridgeError(err).message}`, { cause: err });
    }
  }

  private async closeListeners(): Promise<void> {
    const closeServer = (s: Server | undefined): Promise<void> =>
      s === undefined ? Promise.resolve() : new Promise((r) => s.close(() => r()));
    const udp = this.udp;
    this.udp = undefined;
    const tcp = this.tcpServer;
    this.tcpServer = undefined;
    const tls = this.tlsServer;
    this.tlsServer = undefined;
    await Promise.all([
      closeServer(tcp),
      closeServer(tls),
      udp === undefined ? Promise.resolve() : new Promise<void>((r) => udp.close(() => r())),
    ]);
  }

  /** Closes every socket, listener and connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A failed start() already rejected to its caller; closing only waits for it to settle.
    await this.starting?.catch(() => undefined);
    const conns = [...this.connections.values()];
    for (const c of conns) c.end();
    // `closed` never rejects.
    await Promise.all([this.closeListeners(), ...conns.map((c) => c.closed)]);
    this.connections.clear();
    this.byKey.clear();
  }
}

function isAnyAddress(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}
