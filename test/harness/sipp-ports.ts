/**
 * SIPp on a loaded machine (other test runs pick free ports at the same time): `-mp <port>`
 * makes SIPp bind four UDP ports (audio RTP and RTCP at port and port+1, video at port+2
 * and port+3), and a port found free may be taken before SIPp binds it ("Unable to bind
 * ... errno = 98"). `startSippSafely` picks a media port whose four ports are free and
 * starts SIPp again, on new ports, when it exited early because one was taken.
 */
import { startSipp, type SippOptions, type SippRun } from './sipp.js';
import { freeDualPort, udpFree } from './process.js';

/** An even port with port..port+3 free on UDP (what SIPp's `-mp` binds). */
export async function freeSippMediaPort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + 4 * Math.floor(Math.random() * 5000);
    let free = true;
    for (let k = 0; k < 4 && free; k++) free = await udpFree(port + k, host);
    if (free) return port;
  }
  throw new Error('no four free UDP ports in a row for SIPp media');
}

/**
 * `startSipp` with a media port from {@link freeSippMediaPort}, tried up to `attempts` times
 * while SIPp exits at start because a port was taken (new ports each time unless given).
 */
export async function startSippSafely(opts: SippOptions, attempts = 3): Promise<SippRun> {
  for (let i = 1; ; i++) {
    try {
      return await startSipp({
        ...opts,
        port: opts.port ?? (await freeDualPort()),
        mediaPort: opts.mediaPort ?? (await freeSippMediaPort()),
      });
    } catch (err) {
      const taken = err instanceof Error && /exited early[\s\S]*Address already in use/.test(err.message);
      if (!taken || i >= attempts) throw err;
    }
  }
}
