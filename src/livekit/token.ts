/**
 * The phone participant's access token: kind `sip` (so agents see ParticipantKind.SIP,
 * exactly as for LiveKit's own SIP service), and grants limited to what the bridge does:
 * join that one room, publish one microphone track, subscribe, send data (DTMF, RPC
 * replies) and update its own attributes.
 */
import { AccessToken, TokenVerifier, TrackSource } from 'livekit-server-sdk';

export interface BridgeTokenOptions {
  apiKey: string;
  apiSecret: string;
  roomName: string;
  identity: string;
  name?: string;
  metadata?: string;
  attributes?: Record<string, string>;
  /** Token lifetime; the bridge only needs it to join (default 10 minutes). */
  ttlSeconds?: number;
}

/** Mints the bridge participant's token (`kind: 'sip'`, least privilege). */
export async function createBridgeToken(o: BridgeTokenOptions): Promise<string> {
  const at = new AccessToken(o.apiKey, o.apiSecret, {
    identity: o.identity,
    name: o.name,
    metadata: o.metadata,
    attributes: o.attributes,
    ttl: o.ttlSeconds ?? 600,
  });
  at.kind = 'sip';
  at.addGrant({
    roomJoin: true,
    room: o.roomName,
    canPublish: true,
    canPublishSources: [TrackSource.MICROPHONE],
    canSubscribe: true,
    canPublishData: true,
    canUpdateOwnMetadata: true,
  });
  return at.toJwt();
}

/**
 * Checks LiveKit access tokens signed with our API secret: resolves the claims the call
 * control needs (identity, room, attributes), or `undefined` for a bad or expired token.
 */
export function tokenVerifier(
  apiKey: string,
  apiSecret: string,
): (
  token: string,
) => Promise<{ sub?: string; room?: string; attributes?: Record<string, string> } | undefined> {
  const verifier = new TokenVerifier(apiKey, apiSecret);
  return async (token) => {
    try {
      const claims = await verifier.verify(token);
      return {
        ...(claims.sub !== undefined ? { sub: claims.sub } : {}),
        ...(claims.video?.room !== undefined ? { room: claims.video.room } : {}),
        ...(claims.attributes !== undefined ? { attributes: claims.attributes } : {}),
      };
    } catch {
      return undefined; // a token that does not verify grants nothing
    }
  };
}
