import { describe, expect, it } from 'vitest';
import { TokenVerifier } from 'livekit-server-sdk';
import { createBridgeToken } from '../../src/livekit/token.js';

describe('createBridgeToken', () => {
  it('is kind sip and grants only that room, one microphone source, subscribe and data', async () => {
    const jwt = await createBridgeToken({
      apiKey: 'key',
      apiSecret: 'a-secret-that-is-long-enough-for-hs256',
      roomName: 'sales-outbound-3210-x',
      identity: 'sip-phone-+919876543210',
      metadata: '{"source":"exotel_bridge","phone":"+919876543210"}',
      attributes: { 'sip.callStatus': 'dialing' },
    });
    const claims = await new TokenVerifier('key', 'a-secret-that-is-long-enough-for-hs256').verify(jwt);
    expect(claims.sub).toBe('sip-phone-+919876543210');
    expect(claims.kind).toBe('sip');
    expect(claims.metadata).toBe('{"source":"exotel_bridge","phone":"+919876543210"}');
    expect(claims.attributes).toEqual({ 'sip.callStatus': 'dialing' });
    expect(claims.video).toEqual({
      roomJoin: true,
      room: 'sales-outbound-3210-x',
      canPublish: true,
      canPublishSources: ['microphone'],
      canSubscribe: true,
      canPublishData: true,
      canUpdateOwnMetadata: true,
    });
    expect(claims.video?.roomCreate).toBeUndefined();
    expect(claims.video?.roomAdmin).toBeUndefined();
    expect(claims.exp! - claims.nbf!).toBeLessThanOrEqual(600);
  });
});
