/** runBridge()'s option resolution (src/bridge-options.ts): refused before anything is opened. */
import { describe, expect, it } from 'vitest';
import { resolveBridgeOptions } from '../src/bridge-options.js';
import { ConfigError } from '../src/errors.js';

const base = {
  roomName: 'r',
  phoneNumber: '+919876543210',
  livekit: { url: 'ws://127.0.0.1:7880', apiKey: 'k', apiSecret: 's' },
  exotel: {
    sipHost: '127.0.0.1',
    customerIp: '127.0.0.1',
    mediaIp: '127.0.0.1',
    callerId: '08044319240',
    fromDomain: 'x.sip.exotel.com',
  },
  env: {},
};

describe('livekitMedia.audioSourceQueueMs', () => {
  it('takes 0 and multiples of 10', () => {
    for (const q of [0, 10, 100, 200])
      expect(() => resolveBridgeOptions({ ...base, livekitMedia: { audioSourceQueueMs: q } })).not.toThrow();
  });

  it('refuses anything else as a ConfigError (the native side would panic)', () => {
    for (const q of [15, -10, 2.5, Number.NaN]) {
      let err: unknown;
      try {
        resolveBridgeOptions({ ...base, livekitMedia: { audioSourceQueueMs: q } });
      } catch (e) {
        err = e;
      }
      expect(err, String(q)).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.join()).toContain('audioSourceQueueMs');
    }
  });
});
