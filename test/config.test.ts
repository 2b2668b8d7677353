import { describe, expect, it } from 'vitest';
import { loadConfigFromEnv, resolveConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

const ENV = {
  LIVEKIT_URL: 'ws://127.0.0.1:7880',
  LIVEKIT_API_KEY: 'devkey',
  LIVEKIT_API_SECRET: 'secret',
  EXOTEL_CUSTOMER_IP: '203.0.113.10',
  EXOTEL_CALLER_ID: '08044319240',
  EXOTEL_FROM_DOMAIN: 'acme1m.sip.exotel.com',
};

describe('loadConfigFromEnv', () => {
  it('fills Exotel defaults and derives bind/media addresses from the customer IP', () => {
    const c = loadConfigFromEnv(ENV);
    expect(c.exotel).toMatchObject({
      sipHost: 'pstn.in1.exotel.com',
      sipPort: 5070,
      transport: 'tcp',
      customerSipPort: 5061,
      sipBindIp: '203.0.113.10',
      mediaIp: '203.0.113.10',
      mediaBindIp: '203.0.113.10',
      rtpPortRange: [10000, 20000],
      callerId: '08044319240',
    });
    expect(c.livekit).toEqual({
      url: 'ws://127.0.0.1:7880',
      apiKey: 'devkey',
      apiSecret: 'secret',
      token: undefined,
    });
  });

  it('keeps the advertised media IP and the bind IP apart (1:1 NAT)', () => {
    const c = loadConfigFromEnv({
      ...ENV,
      EXOTEL_MEDIA_IP: '13.234.150.174',
      EXOTEL_MEDIA_BIND_IP: '10.0.0.5',
      EXOTEL_RTP_PORT_RANGE: '30000-30100',
    });
    expect(c.exotel.mediaIp).toBe('13.234.150.174');
    expect(c.exotel.mediaBindIp).toBe('10.0.0.5');
    expect(c.exotel.rtpPortRange).toEqual([30000, 30100]);
  });

  it('reports every missing or invalid value at once', () => {
    let err: unknown;
    try {
      loadConfigFromEnv({
        EXOTEL_SIP_PORT: '70000',
        EXOTEL_SIP_TRANSPORT: 'sctp',
        EXOTEL_CUSTOMER_IP: 'my-host',
        EXOTEL_SIP_USERNAME: 'u',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues;
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringContaining('LIVEKIT_URL'),
        expect.stringContaining('LIVEKIT_API_KEY'),
        expect.stringContaining('LIVEKIT_API_SECRET'),
        expect.stringContaining('EXOTEL_SIP_PORT'),
        expect.stringContaining('EXOTEL_SIP_TRANSPORT'),
        expect.stringContaining('EXOTEL_CUSTOMER_IP'),
        expect.stringContaining('EXOTEL_CALLER_ID'),
        expect.stringContaining('EXOTEL_FROM_DOMAIN'),
        expect.stringContaining('EXOTEL_SIP_USERNAME and EXOTEL_SIP_PASSWORD'),
      ]),
    );
    expect(issues).toHaveLength(9);
  });

  it('refuses values that could inject into SIP headers', () => {
    expect(() => loadConfigFromEnv({ ...ENV, EXOTEL_FROM_DOMAIN: 'a.com>\r\nX-Evil: 1' })).toThrow(
      /EXOTEL_FROM_DOMAIN/,
    );
    expect(() => loadConfigFromEnv({ ...ENV, EXOTEL_CALLER_ID: '0804;tag=x' })).toThrow(/EXOTEL_CALLER_ID/);
    expect(() => loadConfigFromEnv({ ...ENV, EXOTEL_ACCOUNT_SID: 'abc\r\nVia: x' })).toThrow(
      /EXOTEL_ACCOUNT_SID/,
    );
  });

  it('explicit options win over the environment; a ready token replaces key and secret', () => {
    const c = resolveConfig(
      {
        livekit: { token: 'jwt', apiKey: undefined },
        exotel: { sipHost: '127.0.0.1', sipPort: 15070, transport: 'udp' },
      },
      { ...ENV, LIVEKIT_API_KEY: undefined, LIVEKIT_API_SECRET: undefined },
    );
    expect(c.livekit.token).toBe('jwt');
    expect(c.exotel).toMatchObject({ sipHost: '127.0.0.1', sipPort: 15070, transport: 'udp' });
  });
});

describe('trunk settings added for TLS, keepalive and codecs', () => {
  it('the SIP port defaults to 443 for TLS and 5070 otherwise', () => {
    expect(loadConfigFromEnv({ ...ENV, EXOTEL_SIP_TRANSPORT: 'tls' }).exotel.sipPort).toBe(443);
    expect(loadConfigFromEnv({ ...ENV, EXOTEL_SIP_TRANSPORT: 'tcp' }).exotel.sipPort).toBe(5070);
  });

  it('EXOTEL_CODECS sets the preference; anything but PCMA/PCMU once each is refused', () => {
    expect(loadConfigFromEnv({ ...ENV, EXOTEL_CODECS: 'pcmu, PCMA' }).exotel.codecs).toEqual([
      'PCMU',
      'PCMA',
    ]);
    expect(loadConfigFromEnv(ENV).exotel.codecs).toBeUndefined();
    for (const bad of ['G729', 'PCMA,PCMA', ',']) {
      expect(() => loadConfigFromEnv({ ...ENV, EXOTEL_CODECS: bad })).toThrow(/EXOTEL_CODECS/);
    }
  });

  it('EXOTEL_TLS_CA_FILE must be readable; a client certificate needs its key', () => {
    expect(() => loadConfigFromEnv({ ...ENV, EXOTEL_TLS_CA_FILE: '/nonexistent/ca.pem' })).toThrow(
      /EXOTEL_TLS_CA_FILE/,
    );
    expect(() => resolveConfig({ exotel: { tls: { cert: 'x' } } }, ENV)).toThrow(/needs its key/);
  });

  it('inbound listeners need no caller ID or From domain', () => {
    const { EXOTEL_CALLER_ID: _c, EXOTEL_FROM_DOMAIN: _f, ...rest } = ENV as Record<string, string>;
    expect(() => loadConfigFromEnv(rest)).toThrow(/EXOTEL_CALLER_ID/);
    expect(resolveConfig({}, rest, { caller: 'optional' }).exotel.callerId).toBe('');
  });
});
