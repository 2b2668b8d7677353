/** Helpers for tests that talk to the real livekit-server provided by global setup. */
import { inject } from 'vitest';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';

export function livekitEnv() {
  return inject('livekit');
}

export function roomService(): RoomServiceClient {
  const lk = livekitEnv();
  return new RoomServiceClient(lk.httpUrl, lk.apiKey, lk.apiSecret);
}

export interface TokenOptions {
  identity: string;
  room: string;
  name?: string;
  metadata?: string;
  attributes?: Record<string, string>;
  kind?: 'standard' | 'sip' | 'agent';
  /** Sign with this secret instead of the server's (a token the server must refuse). */
  secret?: string;
}

export async function mintToken(o: TokenOptions): Promise<string> {
  const lk = livekitEnv();
  const at = new AccessToken(lk.apiKey, o.secret ?? lk.apiSecret, {
    identity: o.identity,
    name: o.name,
    metadata: o.metadata,
    attributes: o.attributes,
    ttl: '10m',
  });
  if (o.kind) at.kind = o.kind;
  at.addGrant({ roomJoin: true, room: o.room, canPublish: true, canSubscribe: true, canPublishData: true });
  return at.toJwt();
}

let counter = 0;
export function uniqueRoom(prefix = 'test'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** Resolves when `cond()` holds, polling; rejects after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  cond: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
