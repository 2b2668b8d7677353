/**
 * Who may call in (RFC 3261 §22.4 from the server side): an INVITE from outside the
 * trusted addresses is challenged with a stateless 401 and admitted when the retry
 * carries the right digest; wrong credentials are challenged again and the caller gives
 * up; without `inboundAuth` a stranger gets 403. In memory, on a fake clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SipUserAgent } from '../../src/sip/user-agent.js';
import { resolveSipTimers } from '../../src/sip/timers.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import { createSdpOffer } from '../../src/sdp/offer-answer.js';
import { silentLogger } from '../../src/logger.js';
import { createRequest } from '../../src/sip/message.js';
import { newBranch, newTag } from '../../src/sip/ids.js';
import { DigestVerifier, type InboundCredentials } from '../../src/sip/auth-server.js';
import { buildDigestAuthorization } from '../../src/sip/digest.js';
import { parseAuthChallenge } from '../../src/sip/headers.js';
import type { SipRequest } from '../../src/sip/message.js';
import { MemoryNetwork } from './memory-transport.js';

const T1 = 500;
const OFFER = createSdpOffer({ ip: '127.0.0.1', port: 40000 });
const CREDS: InboundCredentials = { realm: 'bridge.example', username: 'exotel', password: 's3cret' };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function ua(
  net: MemoryNetwork,
  clock: FakeTimerClock,
  me: string,
  trunk: string,
  extra: Partial<ConstructorParameters<typeof SipUserAgent>[0]> = {},
): SipUserAgent {
  const u = new SipUserAgent({
    transport: net.endpoint(me, 5060),
    protocol: 'tcp',
    advertisedHost: me,
    advertisedPort: 5060,
    trunk: { protocol: 'tcp', host: trunk, port: 5060 },
    clock,
    timers: resolveSipTimers({ t1: T1 }),
    userAgent: me,
    allow: 'INVITE, ACK, CANCEL, BYE, OPTIONS',
    ...extra,
  });
  cleanups.push(async () => {
    const p = u.close(0);
    clock.advance(60_000);
    await p;
  });
  return u;
}

function invite(caller: SipUserAgent, to: string) {
  const callId = caller.newCallId();
  return caller.placeCall(
    () =>
      createRequest(
        'INVITE',
        `sip:08044319240@${to}:5060`,
        [
          ['Via', `SIP/2.0/TCP 127.0.0.2:5060;branch=${newBranch()};rport`],
          ['Max-Forwards', '70'],
          ['From', `<sip:+919876543210@127.0.0.2>;tag=${newTag()}`],
          ['To', `<sip:08044319240@${to}>`],
          ['Call-ID', callId],
          ['CSeq', '1 INVITE'],
          ['Contact', '<sip:+919876543210@127.0.0.2:5060;transport=tcp>'],
          ['Content-Type', 'application/sdp'],
        ],
        OFFER,
      ),
    { callId, localUser: '+919876543210', logger: silentLogger, sdp: OFFER },
  );
}

async function setup(calleeAuth: InboundCredentials | undefined, callerAuth?: InboundCredentials) {
  const clock = new FakeTimerClock();
  const net = new MemoryNetwork('tcp');
  // The callee's trunk is 127.0.0.9: the caller at 127.0.0.2 is a stranger to it.
  const callee = ua(
    net,
    clock,
    '127.0.0.1',
    '127.0.0.9',
    calleeAuth !== undefined ? { inboundAuth: calleeAuth } : {},
  );
  const caller = ua(net, clock, '127.0.0.2', '127.0.0.1', {
    trustedAddresses: ['127.0.0.1'],
    ...(callerAuth !== undefined
      ? { auth: { username: callerAuth.username, password: callerAuth.password } }
      : {}),
  });
  await Promise.all([callee.start(), caller.start()]);
  callee.onInvite = (c) => void c.accept({ sdp: OFFER }).catch(() => undefined);
  return { clock, net, callee, caller };
}

describe('inbound digest authentication', () => {
  it('a stranger with the right credentials: 401, then the retry is admitted and answered', async () => {
    const { net, callee, caller } = await setup(CREDS, CREDS);
    const call = invite(caller, '127.0.0.1');
    const answer = await call.answered;
    expect(answer.status).toBe(200);
    expect(net.labels().slice(0, 4)).toEqual(['INVITE', '401 INVITE', 'ACK', 'INVITE']);
    const challenge = net.log[1]!.msg.headers.get('WWW-Authenticate') ?? '';
    expect(challenge).toMatch(
      /^Digest realm="bridge\.example", nonce="[0-9a-z]+\.[A-Za-z0-9_-]{22}", algorithm=MD5, qop="auth"$/,
    );
    // Stateless: the challenge left no transaction behind.
    expect(callee.stats().requestsRefused).toBe(1);
    await call.hangup();
  });

  it('wrong credentials are challenged again; the caller gives up with auth-failed; no call is offered', async () => {
    const { net, callee, caller } = await setup(CREDS, { ...CREDS, password: 'wrong' });
    let offered = 0;
    callee.onInvite = () => void offered++;
    const call = invite(caller, '127.0.0.1');
    expect((await call.ended).reason).toBe('auth-failed');
    expect(net.labels().filter((l) => l === '401 INVITE')).toHaveLength(2);
    expect(offered).toBe(0);
  });

  it('DigestVerifier: right, wrong, forged and stale nonces', () => {
    let now = 1_000_000;
    const v = new DigestVerifier(CREDS, () => now);
    const challenge = parseAuthChallenge(v.challenge());
    const req = (password: string, nonce = challenge.nonce!): SipRequest => {
      const r = createRequest('INVITE', 'sip:08044319240@127.0.0.1', [['Call-ID', 'x']]);
      const a = buildDigestAuthorization(
        { ...challenge, nonce },
        { username: CREDS.username, password, method: 'INVITE', uri: r.uri },
      );
      r.headers.append(a.name, a.value);
      return r;
    };
    expect(v.check(createRequest('INVITE', 'sip:x@127.0.0.1'))).toBe('missing');
    expect(v.check(req(CREDS.password))).toBe('ok');
    expect(v.check(req('wrong'))).toBe('wrong');
    const [ts] = challenge.nonce!.split('.');
    expect(v.check(req(CREDS.password, `${ts}.AAAAAAAAAAAAAAAAAAAAAA`))).toBe('wrong'); // not our HMAC
    // Another process (another secret) cannot mint our nonces.
    expect(new DigestVerifier(CREDS, () => now).check(req(CREDS.password))).toBe('wrong');
    now += 300_001;
    expect(v.check(req(CREDS.password))).toBe('stale');
    expect(v.challenge(true)).toMatch(/, stale=true$/);
  });

  it('without inboundAuth a stranger gets 403', async () => {
    const { net, caller } = await setup(undefined, CREDS);
    const call = invite(caller, '127.0.0.1');
    expect((await call.ended).status).toBe(403);
    expect(net.labels()).toEqual(['INVITE', '403 INVITE', 'ACK']);
  });
});
