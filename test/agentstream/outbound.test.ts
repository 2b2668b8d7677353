/** placeAgentStreamCall's checks, made before Exotel is asked to ring anyone. */
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentStreamServer, placeAgentStreamCall } from '../../src/index.js';
import { AgentStreamExotel } from '../../src/testing/index.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function setup(): Promise<{ exotel: AgentStreamExotel; baseUrl: string }> {
  const exotel = new AgentStreamExotel();
  const { baseUrl } = await exotel.listen();
  closers.push(() => exotel.close());
  return { exotel, baseUrl };
}

function server() {
  const s = createAgentStreamServer({
    livekit: { url: 'ws://127.0.0.1:1', apiKey: 'k', apiSecret: 's' },
    env: {},
    auth: { username: 'u', password: 'p' },
    requireExistingRoom: false,
  });
  closers.push(() => s.close());
  return s;
}

describe('placeAgentStreamCall', () => {
  it('lists every problem at once and sends nothing', async () => {
    const { exotel, baseUrl } = await setup();
    const err = await placeAgentStreamCall({
      server: server(),
      roomName: 'r',
      phoneNumber: '+919876543210',
      callerId: '08044319240',
      streamUrl: 'https://not-a-websocket.example/x?a=1&b=2&c=3',
      sampleRate: 44100 as 8000,
      answerTimeoutMs: 10,
      api: { baseUrl },
      env: {},
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG' });
    const issues = (err as { issues: string[] }).issues.join('\n');
    for (const what of [
      'sampleRate',
      'accountSid',
      'apiKey',
      'apiToken',
      'ws:// or wss://',
      'custom parameters',
      'answerTimeoutMs',
    ])
      expect(issues).toContain(what);
    expect(exotel.requests).toHaveLength(0);
  });

  it('a closing endpoint cannot take the stream: ClosedError, and Exotel is not asked to ring', async () => {
    const { exotel, baseUrl } = await setup();
    const s = server();
    await s.close();
    const err = await placeAgentStreamCall({
      server: s,
      roomName: 'r',
      phoneNumber: '+919876543210',
      callerId: '08044319240',
      streamUrl: 'ws://u:p@127.0.0.1:9/exotel/agentstream',
      api: { accountSid: exotel.accountSid, apiKey: 'sim-key', apiToken: 'sim-token', baseUrl },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CLOSED' });
    expect(exotel.requests).toHaveLength(0);
  });
});
