/**
 * `ExotelSimulator`: a real SIP/RTP server on TCP, UDP or TLS that behaves like Exotel's
 * vSIP trunk as its public documentation describes it, for tests, the demo and users' own
 * tests. It checks the From domain, the caller id and the source IP (403), requires an
 * E.164 Request-URI (404), answers PCMA-first, can ring, reject, send early media, send RTP
 * from a port other than the one it advertises (to exercise latching), play a tone or
 * samples, record what it hears, report DTMF, challenge with digest, and hang up.
 *
 * This file holds the listeners and the routing of requests; one call is a
 * {@link SimulatedCall} (`simulator-call.ts`), its media `simulator-media.ts`, the digest
 * check `simulator-auth.ts`. Responses are built by `src/sip/builders.ts`, SDP by
 * `src/sdp/`, and every timer runs on the injected clock.
 */
import { connect as netConnect, createServer, isIP, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { EventEmitter } from 'eventemitter3';
import { bestEffort, bestEffortAsync } from '../best-effort.js';
import { BridgeError, ConfigError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { buildResponse } from '../sip/builders.js';
import { SipStreamFramer } from '../sip/framing.js';
import { getCallId, getFrom } from '../sip/headers.js';
import { newTag } from '../sip/ids.js';
import type { SipMessage, SipRequest, SipResponse } from '../sip/message.js';
import { parseSipMessage } from '../sip/parser.js';
import { isE164 } from '../sip/phone.js';
import { serializeSipMessage } from '../sip/serializer.js';
import { systemTimerClock, type TimerClock } from '../sip/timers.js';
import { parseUri } from '../sip/uri.js';
import { SimulatorDigest } from './simulator-auth.js';
import { SimulatedCall } from './simulator-call.js';
import { SimulatedInboundCall } from './simulator-inbound.js';
import {
  DEFAULT_BEHAVIOUR,
  type CallBehaviour,
  type ExotelSimulatorOptions,
  type Flow,
  type InboundCallOptions,
  type InboundCallTarget,
  type InboundSimulatorHost,
  type OpenedFlow,
  type ReceivedRequest,
  type SimulatorAddress,
  type SimulatorResponseParts,
  type SimulatorTransport,
} from './simulator-types.js';

export { SimulatedCall } from './simulator-call.js';
export { SimulatedInboundCall } from './simulator-inbound.js';
export type {
  CallBehaviour,
  ExotelSimulatorOptions,
  InboundCallAnswer,
  InboundCallEnded,
  InboundCallOptions,
  InboundCallState,
  InboundCallTarget,
  ReceivedRequest,
  SimulatorAddress,
  SimulatorTransport,
} from './simulator-types.js';

/** Events of an {@link ExotelSimulator}. */
export interface ExotelSimulatorEvents {
  /** An INVITE arrived (before any check; retransmissions excluded). */
  invite: [request: SipRequest];
  /** An INVITE passed the checks and became a call (also pushed to `calls`). */
  call: [call: SimulatedCall];
  /** An INVITE was refused by the checks (source, From, auth). */
  rejected: [
    info: {
      /** The status it was answered with (401/407 challenge, 403...). */
      status: number;
      /** That response's reason phrase. */
      reason: string;
      /** The refused INVITE. */
      request: SipRequest;
    },
  ];
}

/**
 * A simulated Exotel SIP trunk for tests, over real sockets: it answers INVITEs as Exotel
 * does (ringing, early media, answer, rejection, digest challenge, RTP with a tone or
 * samples) and places calls to the customer's listener with {@link ExotelSimulator.callIn}.
 */
export class ExotelSimulator extends EventEmitter<ExotelSimulatorEvents> implements InboundSimulatorHost {
  /** Every call that got past the checks, in order. */
  readonly calls: SimulatedCall[] = [];
  /** Every call placed with {@link callIn}, in order. */
  readonly inboundCalls: SimulatedInboundCall[] = [];
  /** Every request received, in order. */
  readonly requests: ReceivedRequest[] = [];
  /** @internal The clock every timer of the simulator and its calls runs on. */
  readonly clock: TimerClock;
  private stream: Server | undefined;
  private udp: UdpSocket | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly byCallId = new Map<string, SimulatedCall>();
  private readonly inboundById = new Map<string, SimulatedInboundCall>();
  private readonly digest: SimulatorDigest | undefined;
  private readonly transports: readonly SimulatorTransport[];
  private readonly log: Logger;
  private boundPort = 0;
  private closed = false;
  private answerKeepalives = true;

  /**
   * A simulator that is not listening yet (call `start()`).
   *
   * @throws ConfigError when the transports and the `tls` option do not fit together.
   */
  constructor(private readonly options: ExotelSimulatorOptions = {}) {
    super();
    this.log = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemTimerClock;
    this.transports = resolveTransports(options);
    this.digest = options.auth ? new SimulatorDigest(options.auth) : undefined;
  }

  /** Where it listens, and on which transports. */
  get address(): SimulatorAddress {
    const t = this.transports;
    const transport = t.includes('tls') ? 'tls' : t.includes('tcp') ? 'tcp' : 'udp';
    return { host: this.options.host ?? '127.0.0.1', port: this.boundPort, transport, transports: t };
  }

  /** Starts listening on every transport (the same port number for all). */
  async start(): Promise<{
    /** The port listened on (the one picked when the `port` option is 0 or absent). */
    port: number;
  }> {
    const host = this.options.host ?? '127.0.0.1';
    const stream = this.transports.find((t) => t === 'tcp' || t === 'tls');
    let port = this.options.port ?? 0;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        if (stream !== undefined) port = await this.listenStream(stream, host, port);
        if (this.transports.includes('udp')) port = await this.bindUdp(host, port);
        this.boundPort = port;
        return { port };
      } catch (err) {
        await this.closeListeners();
        if (this.options.port !== undefined && this.options.port !== 0) throw err;
        port = 0;
      }
    }
    throw new BridgeError(
      'SIP_TRANSPORT',
      `the simulator could not find a port free for ${this.transports.join(' and ')}`,
    );
  }

  /**
   * Calls the customer as Exotel's trunk does for a call routed to the SIP trunk: an
   * INVITE to `target` over TCP/TLS (a connection the simulator opens) or from its UDP
   * socket. Returns at once; follow the call through its `answered` and `ended` promises.
   * @throws ConfigError after `close()`, or for UDP when the simulator serves no UDP.
   */
  callIn(options: InboundCallOptions): SimulatedInboundCall {
    if (this.closed) throw new ConfigError(['the simulator is closed']);
    if ((options.target.transport ?? 'tcp') === 'udp' && this.udp === undefined) {
      throw new ConfigError(['callIn over udp needs a simulator serving udp (started)']);
    }
    const call = new SimulatedInboundCall(this, options, this.log);
    this.inboundCalls.push(call);
    this.inboundById.set(call.callId, call);
    call.begin();
    return call;
  }

  /** Ends live calls (BYE, or CANCEL for inbound calls not answered yet), closes every socket and timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([
      ...this.calls.map((c) => bestEffortAsync(this.log, 'simulator hangup on close', c.hangup())),
      ...this.inboundCalls.map((c) => bestEffortAsync(this.log, 'simulator inbound hangup', c.hangup())),
    ]);
    for (const c of this.calls) await bestEffortAsync(this.log, 'simulator call dispose', c.dispose());
    for (const c of this.inboundCalls) {
      await bestEffortAsync(this.log, 'simulator inbound call dispose', c.dispose());
    }
    await this.closeListeners();
  }

  /**
   * Resets every TCP/TLS connection (RST, no FIN), as a trunk that crashed or lost its
   * state would. Calls in progress are left as they are: no BYE is sent.
   */
  resetConnections(): void {
    for (const s of this.sockets) s.resetAndDestroy();
  }

  /**
   * Whether double-CRLF keep-alive pings on TCP/TLS connections get their single-CRLF pong
   * (RFC 5626 §4.4.1; default true). `false` plays a trunk that stopped answering.
   */
  setKeepaliveAnswers(answer: boolean): void {
    this.answerKeepalives = answer;
  }

  /** @internal */
  get settings(): ExotelSimulatorOptions {
    return this.options;
  }

  /**
   * @internal A response to `req` (`buildResponse`): `Server: exotel-simulator`, and
   * received/rport on the top Via for UDP (RFC 3581).
   */
  response(req: SipRequest, status: number, flow: Flow, parts: SimulatorResponseParts = {}): SipResponse {
    return buildResponse(req, status, {
      ...parts,
      server: 'exotel-simulator',
      source: flow.transport === 'udp' ? { address: flow.address, port: flow.port } : undefined,
    });
  }

  /** @internal */
  forget(call: { readonly callId: string }): void {
    if (this.byCallId.get(call.callId) === call) this.byCallId.delete(call.callId);
  }

  /** @internal */
  forgetInbound(call: { readonly callId: string }): void {
    if (this.inboundById.get(call.callId) === call) this.inboundById.delete(call.callId);
  }

  /** @internal A connection to `target`, read and written exactly like an accepted one. */
  connect(target: InboundCallTarget, onClose: () => void): Promise<OpenedFlow> {
    const transport = target.transport === 'tls' ? 'tls' : 'tcp';
    return new Promise((resolve, reject) => {
      const sock =
        transport === 'tls'
          ? tlsConnect({
              ...target.tls,
              // TLS over a TCP socket bound to our host, as for plain TCP below.
              socket: netConnect({
                host: target.host,
                port: target.port,
                localAddress: this.options.host ?? '127.0.0.1',
              }),
              servername: target.tls?.servername ?? (isIP(target.host) === 0 ? target.host : undefined),
            })
          : netConnect({
              host: target.host,
              port: target.port,
              localAddress: this.options.host ?? '127.0.0.1',
            });
      // Tracked at once, so close() destroys a connection still being opened.
      this.sockets.add(sock);
      sock.once('close', onClose);
      sock.once('error', reject);
      sock.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
        sock.removeListener('error', reject);
        const flow = this.onConnection(sock, transport);
        resolve({ ...flow, close: () => sock.end() });
      });
    });
  }

  /** @internal */
  udpFlow(host: string, port: number): Flow {
    const s = this.udp;
    if (s === undefined) throw new ConfigError(['the simulator serves no udp']);
    const write = (bytes: Uint8Array): void => {
      if (this.udp === s) s.send(bytes, port, host);
    };
    return {
      transport: 'udp',
      address: host,
      port,
      send: (m) => write(serializeSipMessage(m)),
      write,
      alive: () => this.udp === s,
    };
  }

  private listenStream(transport: 'tcp' | 'tls', host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onSocket = (sock: Socket): void => void this.onConnection(sock, transport);
      const srv =
        transport === 'tls' ? createTlsServer(this.options.tls ?? {}, onSocket) : createServer(onSocket);
      if (transport === 'tls') {
        // A client that fails the handshake never becomes a connection: nothing to serve.
        srv.on('tlsClientError', (err) => this.logIgnored('simulator TLS handshake', err));
      }
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.removeListener('error', reject);
        srv.on('error', (err) => this.logIgnored('simulator stream listener', err));
        this.stream = srv;
        const a = srv.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  private bindUdp(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      s.once('error', reject);
      s.bind(port, host, () => {
        s.removeListener('error', reject);
        s.on('error', (err) => this.logIgnored('simulator UDP socket', err));
        this.udp = s;
        s.on('message', (data, rinfo) => {
          let msg: SipMessage;
          try {
            msg = parseSipMessage(data, { transport: 'datagram' });
          } catch {
            // A datagram that is not SIP is dropped, as a trunk drops it (RFC 3261 §16.3).
            return;
          }
          this.onMessage(msg, this.udpFlow(rinfo.address, rinfo.port));
        });
        resolve(s.address().port);
      });
    });
  }

  private async closeListeners(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const stream = this.stream;
    this.stream = undefined;
    if (stream) await new Promise<void>((r) => stream.close(() => r()));
    const udp = this.udp;
    this.udp = undefined;
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
  }

  private onConnection(sock: Socket, transport: 'tcp' | 'tls'): Flow {
    this.sockets.add(sock);
    const framer = new SipStreamFramer({
      onKeepAlive: (kind) => {
        if (kind === 'ping' && this.answerKeepalives && !sock.destroyed) sock.write('\r\n');
      },
    });
    const flow: Flow = {
      transport,
      address: sock.remoteAddress ?? '',
      port: sock.remotePort ?? 0,
      send: (m) => {
        if (!sock.destroyed) sock.write(serializeSipMessage(m));
      },
      write: (bytes) => {
        if (!sock.destroyed) sock.write(bytes);
      },
      alive: () => !sock.destroyed,
    };
    sock.on('data', (chunk: Buffer) => {
      let msgs: SipMessage[];
      try {
        msgs = framer.push(chunk);
      } catch (err) {
        // A stream that cannot be framed cannot be resynchronised: drop the connection.
        this.logIgnored('simulator framing', err);
        sock.destroy();
        return;
      }
      for (const m of msgs) this.onMessage(m, flow);
    });
    sock.on('error', (err) => this.logIgnored(`simulator ${transport.toUpperCase()} connection`, err));
    sock.on('close', () => this.sockets.delete(sock));
    return flow;
  }

  private onMessage(msg: SipMessage, flow: Flow): void {
    const callId = safeCallId(msg);
    const inbound = this.inboundById.get(callId);
    if (msg.kind === 'response') {
      if (inbound !== undefined) inbound.onResponse(msg, flow);
      else this.byCallId.get(callId)?.onResponse(msg);
      return;
    }
    this.requests.push({
      method: msg.method,
      uri: msg.uri,
      callId,
      transport: flow.transport,
      source: { address: flow.address, port: flow.port },
      message: msg,
    });
    if (inbound !== undefined) return inbound.onRequest(msg, flow);
    const call = this.byCallId.get(callId);
    switch (msg.method) {
      case 'INVITE':
        if (call && call.matchesInvite(msg)) call.retransmittedInvite(flow);
        else if (call && call.state === 'confirmed') {
          void bestEffortAsync(this.log, 'simulator re-INVITE', call.reinvite(msg, flow));
        } else this.onInvite(msg, flow);
        return;
      case 'ACK':
        call?.onAck(msg);
        return;
      case 'BYE':
        if (!call) return flow.send(this.response(msg, 481, flow));
        flow.send(this.response(msg, 200, flow, { toTag: call.localTag }));
        call.remoteEnded('caller');
        return;
      case 'CANCEL':
        if (!call) return flow.send(this.response(msg, 481, flow));
        flow.send(this.response(msg, 200, flow, { toTag: call.localTag }));
        call.cancelled();
        return;
      case 'OPTIONS':
        return flow.send(this.response(msg, 200, flow));
      default:
        return flow.send(this.response(msg, 405, flow));
    }
  }

  private onInvite(req: SipRequest, flow: Flow): void {
    this.emit('invite', req);
    const o = this.options;
    const reject = (status: number): void => {
      const challenge = (status === 401 || status === 407) && this.digest ? [this.digest.challenge()] : [];
      const res = this.response(req, status, flow, { toTag: newTag(), headers: challenge });
      flow.send(res);
      this.emit('rejected', { status, reason: res.reason, request: req });
    };
    let from: ReturnType<typeof getFrom>;
    let user: string | undefined;
    try {
      from = getFrom(req);
      user = parseUri(req.uri).user;
    } catch {
      return reject(400);
    }
    if (o.allowedSourceIps && !o.allowedSourceIps.includes(flow.address)) return reject(403);
    if (o.fromDomain !== undefined && from.uri.host.toLowerCase() !== o.fromDomain.toLowerCase())
      return reject(403);
    if (o.callerIds && !o.callerIds.includes(from.uri.user ?? '')) return reject(403);
    if (user === undefined || !isE164(user)) return reject(404);
    if (this.digest) {
      const verdict = this.digest.check(req);
      if (verdict !== 'ok') return reject(verdict);
    }
    const spec = typeof o.behaviour === 'function' ? o.behaviour(req) : o.behaviour;
    const behaviour: CallBehaviour = { ...DEFAULT_BEHAVIOUR, ...spec };
    const call = new SimulatedCall(this, req, flow, behaviour, user, this.log);
    this.calls.push(call);
    this.byCallId.set(call.callId, call);
    this.emit('call', call);
    call.begin();
  }

  // Socket errors the simulator survives (a peer gone, an ICMP error): logged, throttled.
  private logIgnored(what: string, err: unknown): void {
    bestEffort(this.log, what, () => {
      throw err;
    });
  }
}

function resolveTransports(o: ExotelSimulatorOptions): readonly SimulatorTransport[] {
  const transports = o.transports ?? (o.tls !== undefined ? ['tls'] : ['tcp', 'udp']);
  const issues: string[] = [];
  if (transports.length === 0) issues.push('simulator transports must not be empty');
  if (transports.includes('tcp') && transports.includes('tls')) {
    issues.push('the simulator cannot serve tcp and tls together (both need the TCP port)');
  }
  if (transports.includes('tls') && o.tls === undefined) issues.push('transport tls needs the tls option');
  if (issues.length > 0) throw new ConfigError(issues);
  return Object.freeze([...new Set(transports)]);
}

function safeCallId(msg: SipMessage): string {
  try {
    return getCallId(msg);
  } catch {
    // No usable Call-ID: the message matches no call, which '' (never a key) says.
    return '';
  }
}
