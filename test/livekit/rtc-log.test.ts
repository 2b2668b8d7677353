/**
 * rtc-node's own pino logger (src/livekit/rtc-log.ts): what it is before the bridge loads
 * (named `lk-rtc`, level from NODE_ENV, writing to file descriptor 1), and that loading the
 * participant module silences exactly the copy of rtc-node the bridge uses. That a call's
 * process then prints no `lk-rtc` line is checked on real processes in
 * test/integration/examples.test.ts.
 */
import { describe, expect, it } from 'vitest';
import * as rtc from '@livekit/rtc-node';
import * as rtc013 from 'rtc-node-013';
import {
  RTC_NODE_LOGGER_NAME,
  findRtcNodeLogger,
  quietRtcNodeLog,
  type RtcNodeLogger,
} from '../../src/livekit/rtc-log.js';

/** pino keeps its destination under a private symbol named `pino.stream`. */
function destination(log: RtcNodeLogger): { fd?: number } | undefined {
  const sym = Object.getOwnPropertySymbols(log).find((s) => s.description === 'pino.stream');
  return sym === undefined ? undefined : (log as unknown as Record<symbol, { fd?: number }>)[sym];
}

describe("rtc-node's own logger", () => {
  it('before the bridge loads: pino named lk-rtc, level from NODE_ENV alone, writing to fd 1 (stdout)', () => {
    const log = findRtcNodeLogger(rtc);
    expect(log).toBeDefined();
    expect(log!.bindings()).toEqual({ name: RTC_NODE_LOGGER_NAME });
    expect(log!.level).toBe(process.env.NODE_ENV === 'production' ? 'info' : 'debug');
    expect(destination(log!)?.fd).toBe(1);
  });

  it('is silent once the participant module (where a call loads rtc-node) has loaded', async () => {
    await import('../../src/livekit/participant.js');
    expect(findRtcNodeLogger(rtc)?.level).toBe('silent');
  });

  it('only the copy passed in: the 0.13 line installed beside it keeps its own level', () => {
    const other = findRtcNodeLogger(rtc013);
    expect(other).toBeDefined();
    expect(other).not.toBe(findRtcNodeLogger(rtc));
    expect(other!.level).toBe(process.env.NODE_ENV === 'production' ? 'info' : 'debug');
  });

  it('is idempotent, and changes nothing for a module that is not rtc-node', () => {
    expect(quietRtcNodeLog(rtc)).toBe(true);
    expect(quietRtcNodeLog(rtc)).toBe(true);
    expect(findRtcNodeLogger(rtc)?.level).toBe('silent');
    expect(quietRtcNodeLog({ Room: class {}, dispose: () => undefined })).toBe(false);
  });
});
