/**
 * An in-memory SIP network for unit tests: every endpoint is a `UaTransport` that
 * serializes what it sends, and the network parses it again on the other side (so the
 * wire form is exercised) and delivers it on a microtask. Nothing opens a socket. A
 * `drop` predicate loses messages on purpose; `log` records every message in order.
 */
import type { SipFlow, SipTarget, SipTransportProtocol } from '../../src/sip/flow.js';
import type { SipMessage } from '../../src/sip/message.js';
import { parseSipMessage } from '../../src/sip/parser.js';
import { serializeSipMessage } from '../../src/sip/serializer.js';
import type { SipTransportStats } from '../../src/sip/transport.js';
import type { UaTransport, UaTransportEvents, UaTransportFactory } from '../../src/sip/user-agent.js';
import { SipTransportError } from '../../src/errors.js';
import { ExotelSipClient } from '../../src/sip/client.js';
import { resolveSipTimers } from '../../src/sip/timers.js';
import { SipUserAgent } from '../../src/sip/user-agent.js';
import type { FakeTimerClock } from '../../src/testing/fake-clock.js';

/** One message as it crossed the network. */
export interface WireRecord {
  from: string;
  to: string;
  /** `INVITE`, `ACK`… for requests; `200 INVITE`, `180 INVITE`… for responses. */
  what: string;
  msg: SipMessage;
}

const ZERO_STATS: SipTransportStats = {
  oversizeDatagrams: 0,
  malformedDatagrams: 0,
  connectionsRefused: 0,
  connectionsClosedBadInput: 0,
  connectionsClosedSlow: 0,
  connectionsClosedIdle: 0,
  connectionsClosedKeepalive: 0,
};

export class MemoryNetwork {
  readonly log: WireRecord[] = [];
  /** Return true to lose a message. */
  drop: (r: WireRecord) => boolean = () => false;
  private readonly endpoints = new Map<string, MemoryTransport>();

  constructor(readonly protocol: SipTransportProtocol = 'tcp') {}

  /** A transport factory for an endpoint at `address:port`. */
  endpoint(address: string, port: number): UaTransportFactory {
    return (events) => {
      const t = new MemoryTransport(this, address, port, events);
      this.endpoints.set(`${address}:${port}`, t);
      return t;
    };
  }

  /** What crossed the network, one label per message (`INVITE`, `100 INVITE`, …). */
  labels(filter?: (r: WireRecord) => boolean): string[] {
    return this.log.filter(filter ?? (() => true)).map((r) => r.what);
  }

  /** @internal */
  deliver(from: MemoryTransport, msg: SipMessage, target: SipTarget): SipFlow {
    const key = `${target.host}:${target.port}`;
    const to = this.endpoints.get(key);
    const outFlow = flowOf(this.protocol, from.address, from.port, target.host, target.port);
    const bytes = serializeSipMessage(msg);
    const copy = parseSipMessage(bytes, { transport: this.protocol === 'udp' ? 'datagram' : 'stream' });
    const what =
      copy.kind === 'request'
        ? copy.method
        : `${copy.status} ${(copy.headers.get('CSeq') ?? '').split(/\s+/)[1]}`;
    const record: WireRecord = { from: `${from.address}:${from.port}`, to: key, what, msg: copy };
    if (this.drop(record)) return outFlow;
    this.log.push(record);
    if (to === undefined || to.closed) return outFlow;
    const inFlow = flowOf(this.protocol, to.address, to.port, from.address, from.port);
    queueMicrotask(() => {
      if (!to.closed) to.events.onMessage(copy, inFlow);
    });
    return outFlow;
  }
}

function flowOf(
  protocol: SipTransportProtocol,
  localAddress: string,
  localPort: number,
  remoteAddress: string,
  remotePort: number,
): SipFlow {
  // One "connection" per pair of endpoints, the same id seen from both sides.
  const pair = [`${localAddress}:${localPort}`, `${remoteAddress}:${remotePort}`].sort().join('|');
  let h = 0;
  for (let i = 0; i < pair.length; i++) h = (h * 31 + pair.charCodeAt(i)) >>> 0;
  return {
    protocol,
    localAddress,
    localPort,
    remoteAddress,
    remotePort,
    connectionId: protocol === 'udp' ? undefined : h,
  };
}

export class MemoryTransport implements UaTransport {
  closed = false;
  started = false;

  constructor(
    private readonly net: MemoryNetwork,
    readonly address: string,
    readonly port: number,
    readonly events: UaTransportEvents,
  ) {}

  start(): Promise<void> {
    this.started = true;
    return Promise.resolve();
  }

  send(msg: SipMessage, target: SipTarget): Promise<SipFlow> {
    if (this.closed) return Promise.reject(new SipTransportError('transport is closed'));
    return Promise.resolve(this.net.deliver(this, msg, target));
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  get connectionCount(): number {
    return 0;
  }

  hasOpenConnection(flow: SipFlow | undefined): boolean {
    return flow?.connectionId !== undefined && !this.closed;
  }

  stats(): SipTransportStats {
    return { ...ZERO_STATS };
  }
}

/** Lets every queued microtask (message deliveries, promise callbacks) run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** Our client (127.0.0.1:5061) and a far-end user agent (127.0.0.2:5070) on one in-memory network. */
export const PAIR = {
  us: { host: '127.0.0.1', port: 5061 },
  far: { host: '127.0.0.2', port: 5070 },
  t1: 500,
};

/**
 * An `ExotelSipClient` whose trunk is a far-end `SipUserAgent`, both on `net` and `clock`,
 * started, and closed by the returned `close` (which advances the clock past every wait).
 */
export async function clientAndFarEnd(
  net: MemoryNetwork,
  clock: FakeTimerClock,
  opts: { optionsIntervalMs?: number; farAllow?: string } = {},
): Promise<{
  client: ExotelSipClient;
  far: SipUserAgent;
  farTransport: MemoryTransport;
  close(): Promise<void>;
}> {
  const { us, far: farAt, t1 } = PAIR;
  const client = new ExotelSipClient({
    customerIp: us.host,
    customerSipPort: us.port,
    sipHost: farAt.host,
    sipPort: farAt.port,
    transport: 'tcp',
    fromDomain: 'acme.sip.exotel.com',
    callerId: '08044319240',
    clock,
    timers: { t1 },
    transportFactory: net.endpoint(us.host, us.port),
    ...(opts.optionsIntervalMs !== undefined ? { optionsIntervalMs: opts.optionsIntervalMs } : {}),
  });
  const far = new SipUserAgent({
    transport: net.endpoint(farAt.host, farAt.port),
    protocol: 'tcp',
    advertisedHost: farAt.host,
    advertisedPort: farAt.port,
    trunk: { protocol: 'tcp', host: us.host, port: us.port },
    clock,
    timers: resolveSipTimers({ t1 }),
    userAgent: 'far-end',
    allow: opts.farAllow ?? 'INVITE, ACK, CANCEL, BYE, OPTIONS',
    trustedAddresses: [us.host],
  });
  await Promise.all([client.start(), far.start()]);
  return {
    client,
    far,
    farTransport: far.transport as MemoryTransport,
    async close() {
      const closing = Promise.all([client.close(), far.close(0)]);
      clock.advance(10_000);
      await closing;
    },
  };
}
