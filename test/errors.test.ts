import { describe, expect, it } from 'vitest';
import {
  BridgeError,
  CallRejectedError,
  ConfigError,
  SipParseError,
  AbortedError,
  throwIfAborted,
} from '../src/errors.js';
import { createMemoryLogger, silentLogger } from '../src/logger.js';
import { VERSION } from '../src/version.js';
import pkg from '../package.json' with { type: 'json' };

describe('errors', () => {
  it('carry a stable code, a name, a cause and subclass-aware instanceof', () => {
    const cause = new Error('socket reset');
    const e = new CallRejectedError(486, 'Busy Here', { cause });
    expect(e.code).toBe('CALL_REJECTED');
    expect(e.name).toBe('CallRejectedError');
    expect(e.status).toBe(486);
    expect(e.reason).toBe('Busy Here');
    expect(e.cause).toBe(cause);
    expect(e.message).toBe('call rejected: 486 Busy Here');
    expect(e).toBeInstanceOf(BridgeError);
    expect(e).toBeInstanceOf(Error);
    expect(e instanceof SipParseError).toBe(false);
    expect(new Error('x') instanceof BridgeError).toBe(false);
    expect((null as unknown as object) instanceof BridgeError).toBe(false);
  });

  it('a parse error names the header', () => {
    const e = new SipParseError('missing branch', 'Via');
    expect(e.message).toBe('Via: missing branch');
    expect(e.header).toBe('Via');
  });

  it('ConfigError lists every issue at once', () => {
    const e = new ConfigError(['LIVEKIT_URL is missing', 'EXOTEL_CALLER_ID is missing']);
    expect(e.issues).toHaveLength(2);
    expect(e.message).toContain('LIVEKIT_URL is missing; EXOTEL_CALLER_ID is missing');
  });

  it('throwIfAborted throws AbortedError with the reason as cause', () => {
    const ac = new AbortController();
    expect(() => throwIfAborted(ac.signal)).not.toThrow();
    ac.abort('stop');
    expect(() => throwIfAborted(ac.signal)).toThrow(AbortedError);
  });
});

describe('logger', () => {
  it('the silent logger accepts every call and child() stays silent', () => {
    silentLogger.info('x');
    silentLogger.child({ a: 1 }).error({ err: 1 }, 'y');
  });

  it('the memory logger records level, message, object and child bindings', () => {
    const log = createMemoryLogger();
    log.child({ callId: 'c1' }).info({ port: 5 }, '[RTP] Bridge started');
    log.warn('plain');
    expect(log.records).toEqual([
      { level: 'info', msg: '[RTP] Bridge started', bindings: { callId: 'c1' }, obj: { port: 5 } },
      { level: 'warn', msg: 'plain', bindings: {}, obj: undefined },
    ]);
  });
});

describe('version', () => {
  it('matches package.json (sent in User-Agent)', () => {
    expect(VERSION).toBe(pkg.version);
  });
});

describe('LogThrottle', () => {
  it('lets one line per key per interval through and reports how many it skipped', async () => {
    const { LogThrottle } = await import('../src/logger.js');
    let now = 0;
    const t = new LogThrottle(1000, () => now);
    expect(t.take('a')).toBe(0);
    expect(t.take('a')).toBeUndefined();
    expect(t.take('b')).toBe(0);
    now = 500;
    expect(t.take('a')).toBeUndefined();
    now = 1000;
    expect(t.take('a')).toBe(2);
    expect(t.take('a')).toBeUndefined();
  });
});
