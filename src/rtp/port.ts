/**
 * RTP port allocation: binds a UDP socket on an explicit IP and an even port from a
 * range (RTP on the even port, RTCP optionally on the next odd one), skipping ports that
 * are in use. Nothing here ever binds the wildcard address unless it was passed in.
 */
import { createSocket, type Socket, type SocketType } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import { ConfigError, RtpBindError } from '../errors.js';
import { heldUntilClose } from '../resources.js';

/** The default RTP port range, as most SIP gateways use (LiveKit SIP, Asterisk). */
export const DEFAULT_RTP_PORT_RANGE: readonly [number, number] = [10000, 20000];

/** Options of {@link bindRtpPorts}. */
export interface RtpPortOptions {
  /** The local IP to bind (an IP literal; `0.0.0.0`/`::` only when you mean it). */
  bindIp: string;
  /** Inclusive port range to pick an even port from; default 10000–20000. */
  portRange?: readonly [number, number];
  /** An exact port to bind instead of searching the range (must be even when `rtcp`). */
  port?: number;
  /** Also bind port+1 for RTCP (default true). */
  rtcp?: boolean;
  /** Picks the first port to try; default random in the range (spreads concurrent processes). */
  random?: () => number;
}

/** The sockets bound by {@link bindRtpPorts}. */
export interface RtpPorts {
  /** The RTP socket, bound to `port`. */
  rtp: Socket;
  /** The RTCP socket, bound to `port + 1` (undefined when `rtcp` was false). */
  rtcp: Socket | undefined;
  /** The bound RTP port (even). */
  port: number;
  /** `udp4` or `udp6`. */
  type: SocketType;
}

/** Ports this process currently holds: skipped without a bind attempt. */
const heldPorts = new Set<string>();

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * A dgram `lookup` that answers IP literals synchronously. Node's default goes through
 * `dns.lookup`, which defers every `send()` by one tick and allocates a closure for it;
 * RTP peers are always IP literals (from SDP or the latched source).
 */
function literalLookup(hostname: string, options: unknown, callback: LookupCallback): void {
  const family = isIP(hostname);
  if (family !== 0) {
    callback(null, hostname, family);
    return;
  }
  const fam = typeof options === 'number' ? options : (options as LookupOneOptions | undefined)?.family;
  dnsLookup(hostname, { family: typeof fam === 'number' ? fam : 0 }, (err, address, f) =>
    callback(err, address, f),
  );
}

/** Validates `portRange`/`port`/`bindIp`, throwing one ConfigError listing every problem. */
export function validateRtpPortOptions(opts: Partial<RtpPortOptions>): void {
  const issues: string[] = [];
  if (typeof opts.bindIp !== 'string' || opts.bindIp === '') {
    issues.push('bindIp is required (the local media IP; pass "0.0.0.0" explicitly to bind all interfaces)');
  } else if (isIP(opts.bindIp) === 0) {
    issues.push(`bindIp must be an IP address, got "${opts.bindIp}"`);
  }
  if (opts.portRange !== undefined) {
    const [min, max] = opts.portRange;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1024 || max > 65535 || min > max) {
      issues.push(`portRange must be integers with 1024 <= min <= max <= 65535, got [${min}, ${max}]`);
    } else if (max - min < 1 && (min % 2 !== 0 || opts.rtcp !== false)) {
      issues.push(`portRange [${min}, ${max}] holds no even port with room for RTCP`);
    }
  }
  if (opts.port !== undefined) {
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65534) {
      issues.push(`port must be an integer in 1..65534, got ${opts.port}`);
    } else if (opts.rtcp !== false && opts.port % 2 !== 0) {
      issues.push(`port must be even when RTCP is bound on port+1, got ${opts.port}`);
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

function bindOne(type: SocketType, ip: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type, lookup: literalLookup, ipv6Only: type === 'udp6' });
    heldUntilClose('rtp-socket', sock);
    const onError = (err: Error): void => {
      sock.close();
      reject(err);
    };
    sock.once('error', onError);
    sock.bind({ address: ip, port, exclusive: true }, () => {
      sock.off('error', onError);
      resolve(sock);
    });
  });
}

function isInUse(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EADDRINUSE';
}

async function tryPair(type: SocketType, ip: string, port: number, rtcp: boolean): Promise<RtpPorts> {
  const rtp = await bindOne(type, ip, port);
  if (!rtcp) return { rtp, rtcp: undefined, port, type };
  try {
    const rtcpSock = await bindOne(type, ip, port + 1);
    return { rtp, rtcp: rtcpSock, port, type };
  } catch (err) {
    await closeSocket(rtp);
    throw err;
  }
}

/** Closes a dgram socket, resolving once it is closed (never throws). */
export function closeSocket(sock: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      sock.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/**
 * Binds an RTP socket (and optionally RTCP on port+1) on `bindIp`. With `port` it binds
 * exactly that port; otherwise it walks the even ports of `portRange` from a random start,
 * skipping ports in use (EADDRINUSE) and ports this process already holds.
 * Throws `ConfigError` for invalid options and `RtpBindError` when nothing could be bound.
 */
export async function bindRtpPorts(opts: RtpPortOptions): Promise<RtpPorts> {
  validateRtpPortOptions(opts);
  const ip = opts.bindIp;
  const type: SocketType = isIP(ip) === 6 ? 'udp6' : 'udp4';
  const rtcp = opts.rtcp ?? true;
  const key = (p: number): string => `${ip}|${p}`;
  const hold = (r: RtpPorts): RtpPorts => {
    heldPorts.add(key(r.port));
    const release = (): void => {
      heldPorts.delete(key(r.port));
    };
    r.rtp.once('close', release);
    return r;
  };

  if (opts.port !== undefined) {
    try {
      return hold(await tryPair(type, ip, opts.port, rtcp));
    } catch (err) {
      throw new RtpBindError(`cannot bind RTP on ${ip}:${opts.port}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  const [min, max] = opts.portRange ?? DEFAULT_RTP_PORT_RANGE;
  const first = min % 2 === 0 ? min : min + 1;
  const last = rtcp ? max - 1 : max; // the RTCP port must stay inside the range too
  const count = last >= first ? Math.floor((last - first) / 2) + 1 : 0;
  if (count === 0) throw new RtpBindError(`no even port in range [${min}, ${max}]`);
  const rnd = opts.random ?? Math.random;
  const start = Math.min(count - 1, Math.floor(rnd() * count));
  let lastErr: unknown;
  for (let i = 0; i < count; i++) {
    const port = first + 2 * ((start + i) % count);
    if (heldPorts.has(key(port))) continue;
    try {
      return hold(await tryPair(type, ip, port, rtcp));
    } catch (err) {
      if (!isInUse(err)) {
        throw new RtpBindError(`cannot bind RTP on ${ip}:${port}: ${(err as Error).message}`, { cause: err });
      }
      lastErr = err;
    }
  }
  throw new RtpBindError(`no free RTP port pair on ${ip} in [${min}, ${max}]`, { cause: lastErr });
}
