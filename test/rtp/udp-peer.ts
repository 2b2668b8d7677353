/**
 * The far end of the RTP tests: a plain dgram socket on 127.0.0.1 that records what it
 * receives and sends hand-built RTP packets.
 */
import { createSocket, type Socket } from 'node:dgram';
import { parseRtpPacket, writeRtpHeader, type RtpPacket } from '../../src/rtp/packet.js';

export interface RtpFields {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  marker?: boolean;
}

/** An RTP packet as bytes: 12-byte header + payload. */
export function rtpBytes(f: RtpFields, payload: Uint8Array): Buffer {
  const buf = Buffer.alloc(12 + payload.length);
  writeRtpHeader(buf, 0, { marker: f.marker ?? false, ...f });
  buf.set(payload, 12);
  return buf;
}

export interface Received {
  packet: RtpPacket;
  from: { address: string; port: number };
  at: number;
}

export class UdpPeer {
  readonly received: Received[] = [];
  private constructor(
    readonly sock: Socket,
    readonly port: number,
  ) {
    sock.on('message', (msg, rinfo) => {
      try {
        this.received.push({
          packet: parseRtpPacket(msg),
          from: { address: rinfo.address, port: rinfo.port },
          at: performance.now(),
        });
      } catch {
        // not RTP: ignored
      }
    });
  }

  static async open(): Promise<UdpPeer> {
    const sock = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, '127.0.0.1', () => resolve());
    });
    return new UdpPeer(sock, sock.address().port);
  }

  send(data: Uint8Array, port: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.sock.send(data, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
    );
  }

  sendRtp(port: number, f: RtpFields, payload: Uint8Array): Promise<void> {
    return this.send(rtpBytes(f, payload), port);
  }

  /** Waits (bounded) until `pred()` holds. */
  async until(pred: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
    const end = performance.now() + timeoutMs;
    while (!pred()) {
      if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(5);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.sock.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until `pred()` holds. */
export async function until(pred: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Counts of the active resources Node reports (UDP sockets, ref'd timers, immediates). */
export function resourceCounts(): { udp: number; timeout: number; immediate: number } {
  const r = process.getActiveResourcesInfo();
  return {
    udp: r.filter((x) => x === 'UDPWrap').length,
    timeout: r.filter((x) => x === 'Timeout').length,
    immediate: r.filter((x) => x === 'Immediate').length,
  };
}

/**
 * Waits until the resource counts stop changing (sockets closed by earlier tests finish
 * closing asynchronously), then returns them.
 */
export async function settled(): Promise<{ udp: number; timeout: number; immediate: number }> {
  let last = JSON.stringify(resourceCounts());
  let stable = 0;
  for (let i = 0; i < 100 && stable < 3; i++) {
    await new Promise((r) => setImmediate(r));
    await sleep(10);
    const now = JSON.stringify(resourceCounts());
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  return resourceCounts();
}
