import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { InvalidHeaderError, SipAuthError } from '../../src/errors.js';
import { buildDigestAuthorization } from '../../src/sip/digest.js';
import { parseAuthChallenge, type AuthChallenge } from '../../src/sip/headers.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A challenge object built literally (as parseAuthChallenge would return it). */
function challenge(fields: Record<string, string>, scheme = 'Digest'): AuthChallenge {
  const params = new Map(Object.entries(fields));
  const c: AuthChallenge = { scheme, params };
  if (fields.realm !== undefined) c.realm = fields.realm;
  if (fields.nonce !== undefined) c.nonce = fields.nonce;
  if (fields.opaque !== undefined) c.opaque = fields.opaque;
  if (fields.algorithm !== undefined) c.algorithm = fields.algorithm;
  if (fields.qop !== undefined) c.qop = fields.qop.split(',').map((q) => q.trim());
  return c;
}

describe('buildDigestAuthorization: RFC worked examples', () => {
  it('RFC 2617 §3.5 (Mufasa, qop=auth)', () => {
    const c = challenge({
      realm: 'testrealm@host.com',
      qop: 'auth,auth-int',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      opaque: '5ccc069c403ebaf9f0171e9517f40e41',
    });
    const auth = buildDigestAuthorization(c, {
      username: 'Mufasa',
      password: 'Circle Of Life',
      method: 'GET',
      uri: '/dir/index.html',
      cnonce: '0a4f113b',
      nc: 1,
    });
    expect(auth).toEqual({
      name: 'Authorization',
      value:
        'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
        'uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", ' +
        'opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001',
    });
  });

  const rfc7616 = (algorithm: string): AuthChallenge =>
    parseAuthChallenge(
      `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, ` +
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    );
  const rfc7616Options = {
    username: 'Mufasa',
    password: 'Circle of Life',
    method: 'GET',
    uri: '/dir/index.html',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    nc: 1,
  };

  it('RFC 7616 §3.9.1 with MD5', () => {
    const { value } = buildDigestAuthorization(rfc7616('MD5'), rfc7616Options);
    expect(value).toBe(
      'Digest username="Mufasa", realm="http-auth@example.org", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", ' +
        'uri="/dir/index.html", response="8ca523f5e9506fed4657c9700eebdbec", algorithm=MD5, ' +
        'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", ' +
        'qop=auth, nc=00000001',
    );
  });

  it('RFC 7616 §3.9.1 with SHA-256', () => {
    const { value } = buildDigestAuthorization(rfc7616('SHA-256'), rfc7616Options);
    expect(value).toContain('response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"');
    expect(value).toContain(', algorithm=SHA-256,');
  });
});

describe('buildDigestAuthorization: SIP cases computed independently', () => {
  const sipChallenge = parseAuthChallenge(
    'Digest realm="sip.exotel.com", nonce="a1b2c3d4", algorithm=MD5',
    'WWW-Authenticate',
  );
  const opts = {
    username: 'acme',
    password: 's3cret',
    method: 'INVITE',
    uri: 'sip:+919876543210@pstn.in1.exotel.com:5070',
  };

  it('RFC 2069 form without qop: response = H(HA1:nonce:HA2), no cnonce, no nc', () => {
    const ha1 = md5('acme:sip.exotel.com:s3cret');
    const ha2 = md5('INVITE:sip:+919876543210@pstn.in1.exotel.com:5070');
    const expected = md5(`${ha1}:a1b2c3d4:${ha2}`);
    expect(buildDigestAuthorization(sipChallenge, opts).value).toBe(
      `Digest username="acme", realm="sip.exotel.com", nonce="a1b2c3d4", ` +
        `uri="sip:+919876543210@pstn.in1.exotel.com:5070", response="${expected}", algorithm=MD5`,
    );
  });

  it('omits algorithm when the challenge did not name one', () => {
    const c = parseAuthChallenge('Digest realm="r", nonce="n"');
    const value = buildDigestAuthorization(c, opts).value;
    expect(value).not.toContain('algorithm');
    expect(value).toContain(`response="${md5(`${md5('acme:r:s3cret')}:n:${md5(`INVITE:${opts.uri}`)}`)}"`);
  });

  it('407 → Proxy-Authorization', () => {
    const c = parseAuthChallenge('Digest realm="r", nonce="n"', 'Proxy-Authenticate');
    expect(buildDigestAuthorization(c, { ...opts, status: 407 }).name).toBe('Proxy-Authorization');
    expect(buildDigestAuthorization(c, { ...opts, status: 401 }).name).toBe('Authorization');
  });

  it('MD5-sess folds nonce and cnonce into HA1', () => {
    const c = parseAuthChallenge('Digest realm="r", nonce="n", qop="auth", algorithm=MD5-sess');
    const ha1 = md5(`${md5('acme:r:s3cret')}:n:cc`);
    const expected = md5(`${ha1}:n:00000001:cc:auth:${md5(`INVITE:${opts.uri}`)}`);
    expect(buildDigestAuthorization(c, { ...opts, cnonce: 'cc' }).value).toContain(`response="${expected}"`);
  });

  it('SHA-256-sess, nc written as 8 hex digits', () => {
    const c = parseAuthChallenge('Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256-sess');
    const ha1 = sha256(`${sha256('acme:r:s3cret')}:n:cc`);
    const expected = sha256(`${ha1}:n:0000002a:cc:auth:${sha256(`INVITE:${opts.uri}`)}`);
    const value = buildDigestAuthorization(c, { ...opts, cnonce: 'cc', nc: 42 }).value;
    expect(value).toContain(`response="${expected}"`);
    expect(value).toContain('nc=0000002a');
    expect(value).toContain('algorithm=SHA-256-sess');
  });

  it('qop=auth-int hashes the body when auth is not offered', () => {
    const c = parseAuthChallenge('Digest realm="r", nonce="n", qop="auth-int"');
    const body = 'v=0\r\n';
    const ha2 = md5(`INVITE:${opts.uri}:${md5(body)}`);
    const expected = md5(`${md5('acme:r:s3cret')}:n:00000001:cc:auth-int:${ha2}`);
    const fromString = buildDigestAuthorization(c, { ...opts, cnonce: 'cc', body }).value;
    const fromBytes = buildDigestAuthorization(c, {
      ...opts,
      cnonce: 'cc',
      body: new TextEncoder().encode(body),
    }).value;
    expect(fromString).toContain(`response="${expected}"`);
    expect(fromString).toContain('qop=auth-int');
    expect(fromBytes).toBe(fromString);
  });

  it('prefers auth over auth-int whatever the order', () => {
    const c = parseAuthChallenge('Digest realm="r", nonce="n", qop="auth-int,auth"');
    expect(buildDigestAuthorization(c, { ...opts, cnonce: 'cc' }).value).toContain('qop=auth,');
  });

  it('userhash=true sends H(username:realm) as the username', () => {
    const c = parseAuthChallenge('Digest realm="r", nonce="n", algorithm=SHA-256, userhash=true');
    const value = buildDigestAuthorization(c, opts).value;
    expect(value).toContain(`username="${sha256('acme:r')}"`);
    expect(value).toContain('userhash=true');
    expect(value).toContain(
      `response="${sha256(`${sha256('acme:r:s3cret')}:n:${sha256(`INVITE:${opts.uri}`)}`)}"`,
    );
  });

  it('escapes quotes and backslashes in quoted values', () => {
    const c = challenge({ realm: 'a "b" \\c', nonce: 'n' });
    const value = buildDigestAuthorization(c, { ...opts, username: 'we"ird\\' }).value;
    expect(value).toContain('username="we\\"ird\\\\"');
    expect(value).toContain('realm="a \\"b\\" \\\\c"');
    // The hash uses the raw values, not the escaped ones.
    expect(value).toContain(
      `response="${md5(`${md5('we"ird\\:a "b" \\c:s3cret')}:n:${md5(`INVITE:${opts.uri}`)}`)}"`,
    );
  });

  it('draws a fresh random cnonce by default', () => {
    const c = parseAuthChallenge('Digest realm="r", nonce="n", qop="auth"');
    const a = /cnonce="([0-9a-f]+)"/.exec(buildDigestAuthorization(c, opts).value)?.[1];
    const b = /cnonce="([0-9a-f]+)"/.exec(buildDigestAuthorization(c, opts).value)?.[1];
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(b).toMatch(/^[0-9a-f]{32}$/);
    expect(a).not.toBe(b);
  });
});

describe('buildDigestAuthorization: refusals', () => {
  const opts = { username: 'u', password: 'p', method: 'INVITE', uri: 'sip:x@y' };

  it.each([
    ['a Basic challenge', challenge({ realm: 'r' }, 'Basic')],
    ['an unknown algorithm', challenge({ realm: 'r', nonce: 'n', algorithm: 'AKAv1-MD5' })],
    ['a missing nonce', challenge({ realm: 'r' })],
    ['a missing realm', challenge({ nonce: 'n' })],
    ['only auth-conf offered', challenge({ realm: 'r', nonce: 'n', qop: 'auth-conf' })],
  ])('SipAuthError for %s', (_what, c) => {
    expect(() => buildDigestAuthorization(c, opts)).toThrow(SipAuthError);
  });

  it('carries the status in the error', () => {
    try {
      buildDigestAuthorization(challenge({ realm: 'r' }, 'Basic'), { ...opts, status: 407 });
      expect.unreachable();
    } catch (err) {
      expect((err as SipAuthError).status).toBe(407);
      expect((err as SipAuthError).code).toBe('SIP_AUTH');
    }
  });

  it('refuses a nonce count out of range', () => {
    const c = challenge({ realm: 'r', nonce: 'n', qop: 'auth' });
    for (const nc of [0, -1, 1.5, 2 ** 32]) {
      expect(() => buildDigestAuthorization(c, { ...opts, nc })).toThrow(SipAuthError);
    }
    expect(buildDigestAuthorization(c, { ...opts, nc: 0xffffffff, cnonce: 'c' }).value).toContain(
      'nc=ffffffff',
    );
  });

  it('refuses control characters in echoed values (header injection)', () => {
    const c = challenge({ realm: 'r', nonce: 'n' });
    expect(() => buildDigestAuthorization(c, { ...opts, username: 'u\r\nVia: x' })).toThrow(
      InvalidHeaderError,
    );
    expect(() => buildDigestAuthorization(challenge({ realm: 'r\n', nonce: 'n' }), opts)).toThrow(
      InvalidHeaderError,
    );
    expect(() =>
      buildDigestAuthorization(challenge({ realm: 'r', nonce: 'n', qop: 'auth' }), {
        ...opts,
        cnonce: 'a\u0000',
      }),
    ).toThrow(InvalidHeaderError);
  });
});
