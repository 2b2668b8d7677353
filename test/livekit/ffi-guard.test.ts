import { describe, expect, it } from 'vitest';
import { AudioSource } from '@livekit/rtc-node';
import { FfiHandle } from '@livekit/rtc-ffi-bindings';
import { ignoredInvalidHandleDisposals, installFfiDisposeGuard } from '../../src/livekit/ffi-guard.js';

describe('FfiHandle dispose guard (rtc-node 1.1.0 crash on late trackUnpublished)', () => {
  it('patches the very FfiHandle class rtc-node uses', async () => {
    const source = new AudioSource(8000, 1, 100);
    expect(source.ffiHandle).toBeInstanceOf(FfiHandle);
    await source.close();
  });

  it('dropping an unknown handle throws without the guard and is absorbed with it', async () => {
    const source = new AudioSource(8000, 1, 100);
    await source.close();
    const before = ignoredInvalidHandleDisposals();
    if (before === 0) {
      // Not installed yet in this worker: the SDK's behaviour the guard exists for.
      expect(() => new FfiHandle(source.ffiHandle.handle).dispose()).toThrow(
        /trying to drop an invalid handle/,
      );
    }
    installFfiDisposeGuard();
    installFfiDisposeGuard(); // idempotent
    expect(() => new FfiHandle(source.ffiHandle.handle).dispose()).not.toThrow();
    expect(() => new FfiHandle(987_654_321n).dispose()).not.toThrow();
    expect(ignoredInvalidHandleDisposals()).toBe(before + 2);
  });
});
