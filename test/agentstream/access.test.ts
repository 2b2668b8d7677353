/**
 * Who may open an AgentStream (`StreamAccess`, pure): the allow-list (single addresses, v4
 * and v6 CIDR blocks, IPv4 peers seen as `::ffff:` on a dual-stack socket), Basic
 * credentials (right, wrong, malformed, oversized headers), and which wins: an allow-listed
 * address needs no credentials, others need them (401), and with no credentials configured
 * others are forbidden (403).
 */
import { describe, expect, it } from 'vitest';
import { basicCredentials, StreamAccess } from '../../src/agentstream/access.js';
import { ConfigError } from '../../src/errors.js';

const USER = 'exotel-key-7f3a';
const PASS = 'tok3n-9c1e';
const AUTH = { username: USER, password: PASS };

/** An `Authorization: Basic` value for `user:pass`. */
const basic = (userPass: string): string => `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;
const RIGHT = basic(`${USER}:${PASS}`);

const OK_ADDRESS = { ok: true, by: 'address' } as const;
const OK_CREDENTIALS = { ok: true, by: 'credentials' } as const;
const UNAUTHORIZED = { ok: false, status: 401 } as const;
const FORBIDDEN = { ok: false, status: 403 } as const;

/** The ConfigError `f` throws; fails the test otherwise. */
function configError(f: () => unknown): ConfigError {
  let thrown: unknown;
  try {
    f();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  return thrown as ConfigError;
}

const notAnEntry = (entry: string): string =>
  `allowFrom: ${JSON.stringify(entry)} is not an IP address or CIDR block`;

describe('StreamAccess: the allow-list', () => {
  it('a single IPv4 address lets in that address only', () => {
    const a = new StreamAccess(['203.0.113.7']);
    expect(a.check(undefined, '203.0.113.7')).toEqual(OK_ADDRESS);
    expect(a.check(undefined, '203.0.113.8')).toEqual(FORBIDDEN);
    expect(a.check(undefined, '203.0.113.6')).toEqual(FORBIDDEN);
  });

  it('an IPv4 CIDR block lets in exactly its addresses', () => {
    const a = new StreamAccess(['203.0.113.0/24', '198.51.100.64/26']);
    for (const ip of ['203.0.113.0', '203.0.113.255', '198.51.100.64', '198.51.100.127'])
      expect(a.check(undefined, ip), ip).toEqual(OK_ADDRESS);
    for (const ip of ['203.0.112.255', '203.0.114.0', '198.51.100.63', '198.51.100.128'])
      expect(a.check(undefined, ip), ip).toEqual(FORBIDDEN);
  });

  it('/32 is one address, /0 is every IPv4 address', () => {
    expect(new StreamAccess(['10.1.2.3/32']).check(undefined, '10.1.2.3')).toEqual(OK_ADDRESS);
    expect(new StreamAccess(['10.1.2.3/32']).check(undefined, '10.1.2.4')).toEqual(FORBIDDEN);
    expect(new StreamAccess(['0.0.0.0/0']).check(undefined, '8.8.8.8')).toEqual(OK_ADDRESS);
  });

  it('a single IPv6 address matches in any spelling', () => {
    const a = new StreamAccess(['2001:db8::1']);
    expect(a.check(undefined, '2001:db8::1')).toEqual(OK_ADDRESS);
    expect(a.check(undefined, '2001:0db8:0000:0000:0000:0000:0000:0001')).toEqual(OK_ADDRESS);
    expect(a.check(undefined, '2001:db8::2')).toEqual(FORBIDDEN);
  });

  it('an IPv6 CIDR block lets in exactly its addresses', () => {
    const a = new StreamAccess(['2001:db8:abcd::/48']);
    expect(a.check(undefined, '2001:db8:abcd::1')).toEqual(OK_ADDRESS);
    expect(a.check(undefined, '2001:db8:abcd:ffff:ffff:ffff:ffff:ffff')).toEqual(OK_ADDRESS);
    expect(a.check(undefined, '2001:db8:abce::1')).toEqual(FORBIDDEN);
    expect(a.check(undefined, '2001:db8:abcc:ffff::1')).toEqual(FORBIDDEN);
  });

  it('an IPv4 peer on a dual-stack socket (::ffff:a.b.c.d) is checked against the IPv4 entries', () => {
    const a = new StreamAccess(['10.0.0.0/8', '192.0.2.1']);
    expect(a.check(undefined, '::ffff:10.1.2.3')).toEqual(OK_ADDRESS);
    expect(a.check(undefined, '::FFFF:10.1.2.3')).toEqual(OK_ADDRESS);
    expect(a.check(undefined, '::ffff:192.0.2.1')).toEqual(OK_ADDRESS);
    expect(a.check(undefined, '::ffff:11.0.0.1')).toEqual(FORBIDDEN);
    expect(a.check(undefined, '::ffff:192.0.2.2')).toEqual(FORBIDDEN);
  });

  it('IPv4 entries never match IPv6 peers and the other way round', () => {
    expect(new StreamAccess(['0.0.0.0/0']).check(undefined, '2001:db8::1')).toEqual(FORBIDDEN);
    expect(new StreamAccess(['::/0']).check(undefined, '::1')).toEqual(OK_ADDRESS);
    expect(new StreamAccess(['::1']).check(undefined, '127.0.0.1')).toEqual(FORBIDDEN);
  });

  it('a peer address that is not an IP (empty, a name) is never allowed', () => {
    const a = new StreamAccess(['0.0.0.0/0', '::/0']);
    expect(a.check(undefined, '')).toEqual(FORBIDDEN);
    expect(a.check(undefined, 'localhost')).toEqual(FORBIDDEN);
    expect(a.check(undefined, '::ffff:999.1.1.1')).toEqual(FORBIDDEN);
  });

  it('entries are trimmed', () => {
    expect(new StreamAccess([' 10.0.0.1 ', '\t2001:db8::/32\n']).check(undefined, '10.0.0.1')).toEqual(
      OK_ADDRESS,
    );
    expect(new StreamAccess(['\t2001:db8::/32\n']).check(undefined, '2001:db8::5')).toEqual(OK_ADDRESS);
  });

  it('bad entries: one ConfigError listing each of them, in order', () => {
    const bad = [
      'exotel.com',
      '',
      '300.1.1.1',
      '1.2.3',
      '1.2.3.4/33',
      '1.2.3.4/-1',
      '1.2.3.4/8.5',
      '1.2.3.4/abc',
      '1.2.3.4/8/1',
      '::1/129',
      '2001:db8::/64/1',
      '10.0.0.0 /8',
    ];
    const err = configError(() => new StreamAccess(['10.0.0.1', ...bad, '::1']));
    expect(err.code).toBe('CONFIG');
    expect(err.issues).toEqual(bad.map(notAnEntry));
  });

  // `'10.0.0.0/'.split('/')` gives a prefix of '' and Number('') is 0: the typo is taken as
  // 10.0.0.0/0 and lets every IPv4 address in without credentials (see the report).
  it('refuses an entry with an empty prefix ("10.0.0.0/") instead of allowing everyone', () => {
    const err = configError(() => new StreamAccess(['10.0.0.0/']));
    expect(err.issues).toEqual([notAnEntry('10.0.0.0/')]);
  });

  it('bad credentials are listed with bad entries', () => {
    expect(configError(() => new StreamAccess(['nope'], { username: '', password: 'p' })).issues).toEqual([
      notAnEntry('nope'),
      'auth: username and password must not be empty',
    ]);
    expect(configError(() => new StreamAccess([], { username: 'u', password: '' })).issues).toEqual([
      'auth: username and password must not be empty',
    ]);
    expect(configError(() => new StreamAccess([], { username: 'a:b', password: 'p' })).issues).toEqual([
      'auth: the username must not contain ":"',
    ]);
  });

  it('open: neither an allow-list nor credentials', () => {
    expect(new StreamAccess().open).toBe(true);
    expect(new StreamAccess([]).open).toBe(true);
    expect(new StreamAccess(['10.0.0.1']).open).toBe(false);
    expect(new StreamAccess([], AUTH).open).toBe(false);
  });
});

describe('StreamAccess: Basic credentials', () => {
  const a = new StreamAccess([], AUTH);

  it('the right credentials pass, from any address', () => {
    expect(a.check(RIGHT, '127.0.0.1')).toEqual(OK_CREDENTIALS);
    expect(a.check(RIGHT, '2001:db8::1')).toEqual(OK_CREDENTIALS);
    expect(a.check(RIGHT, '')).toEqual(OK_CREDENTIALS);
  });

  it('the scheme is case-insensitive and spaces around the token are allowed', () => {
    const token = Buffer.from(`${USER}:${PASS}`).toString('base64');
    for (const h of [`basic ${token}`, `BASIC ${token}`, `Basic   ${token}`, `Basic ${token}   `])
      expect(a.check(h, '127.0.0.1'), h).toEqual(OK_CREDENTIALS);
  });

  it('a password may hold ":" and non-ASCII characters', () => {
    const b = new StreamAccess([], { username: 'u', password: 'p:ä:ß€' });
    expect(b.check(basic('u:p:ä:ß€'), '127.0.0.1')).toEqual(OK_CREDENTIALS);
    expect(b.check(basic('u:p:ä:ss€'), '127.0.0.1')).toEqual(UNAUTHORIZED);
  });

  it.each([
    ['a wrong password', basic(`${USER}:${PASS}x`)],
    ['a wrong user', basic(`${USER}x:${PASS}`)],
    ['user and password swapped', basic(`${PASS}:${USER}`)],
    ['the password alone', basic(`:${PASS}`)],
    ['the right pair with a trailing newline', basic(`${USER}:${PASS}\n`)],
    ['the right pair in another case', basic(`${USER.toUpperCase()}:${PASS}`)],
  ])('401 for %s', (_what, header) => {
    expect(a.check(header, '127.0.0.1')).toEqual(UNAUTHORIZED);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['the scheme alone', 'Basic'],
    ['the scheme and a space', 'Basic '],
    ['another scheme', `Bearer ${RIGHT.slice(6)}`],
    ['Digest', 'Digest username="exotel", realm="x"'],
    ['no space after the scheme', `Basic${RIGHT.slice(6)}`],
    ['a leading space', ` ${RIGHT}`],
    ['a space inside the token', `${RIGHT.slice(0, 10)} ${RIGHT.slice(10)}`],
    ['a tab after the scheme', `Basic\t${RIGHT.slice(6)}`],
    ['a character outside base64', `${RIGHT}!`],
    ['three padding characters', `${RIGHT.replace(/=*$/, '')}===`],
    ['no colon in the decoded value', basic(`${USER}${PASS}`)],
    ['two tokens', `${RIGHT} ${RIGHT.slice(6)}`],
  ])('401 for a malformed header: %s', (_what, header) => {
    expect(a.check(header, '127.0.0.1')).toEqual(UNAUTHORIZED);
  });

  it('a header of up to 1024 characters is read; a longer one is refused unread', () => {
    // 'Basic ' + 1000 base64 characters (750 bytes of user:pass) + spaces, which the grammar allows
    const password = 'p'.repeat(750 - USER.length - 1);
    const b = new StreamAccess([], { username: USER, password });
    const token = basic(`${USER}:${password}`);
    expect(token).toHaveLength(1006);
    expect(b.check(token + ' '.repeat(18), '127.0.0.1')).toEqual(OK_CREDENTIALS);
    expect(b.check(token + ' '.repeat(19), '127.0.0.1')).toEqual(UNAUTHORIZED);
    expect(b.check(`Basic ${'A'.repeat(100_000)}`, '127.0.0.1')).toEqual(UNAUTHORIZED);
  });
});

describe('basicCredentials', () => {
  it('returns user:password, or undefined', () => {
    expect(basicCredentials(RIGHT)).toBe(`${USER}:${PASS}`);
    expect(basicCredentials('Basic dTpw')).toBe('u:p');
    expect(basicCredentials('basic dTpw  ')).toBe('u:p');
    expect(basicCredentials('Basic Ojo=')).toBe('::');
    expect(basicCredentials(undefined)).toBeUndefined();
    expect(basicCredentials('Basic dXNlcg==')).toBeUndefined(); // "user": no colon
    expect(basicCredentials('Token dTpw')).toBeUndefined();
    expect(basicCredentials(`Basic ${'A'.repeat(1019)}`)).toBeUndefined();
  });
});

describe('StreamAccess: which wins', () => {
  const both = new StreamAccess(['192.0.2.0/24'], AUTH);

  it('an allow-listed address needs no credentials, and wrong ones do not matter', () => {
    expect(both.check(undefined, '192.0.2.10')).toEqual(OK_ADDRESS);
    expect(both.check(basic(`${USER}:wrong`), '192.0.2.10')).toEqual(OK_ADDRESS);
    expect(both.check('garbage', '192.0.2.10')).toEqual(OK_ADDRESS);
    expect(both.check(RIGHT, '192.0.2.10')).toEqual(OK_ADDRESS);
  });

  it('any other address needs the credentials (401 without)', () => {
    expect(both.check(RIGHT, '198.51.100.1')).toEqual(OK_CREDENTIALS);
    expect(both.check(undefined, '198.51.100.1')).toEqual(UNAUTHORIZED);
    expect(both.check(basic(`${USER}:wrong`), '198.51.100.1')).toEqual(UNAUTHORIZED);
  });

  it('with credentials only, every address needs them', () => {
    const auth = new StreamAccess([], AUTH);
    expect(auth.check(undefined, '127.0.0.1')).toEqual(UNAUTHORIZED);
    expect(auth.check(RIGHT, '127.0.0.1')).toEqual(OK_CREDENTIALS);
  });

  it('with an allow-list only, other addresses are forbidden (403), whatever they present', () => {
    const list = new StreamAccess(['192.0.2.0/24']);
    expect(list.check(undefined, '198.51.100.1')).toEqual(FORBIDDEN);
    expect(list.check(RIGHT, '198.51.100.1')).toEqual(FORBIDDEN);
    expect(list.check(undefined, '192.0.2.1')).toEqual(OK_ADDRESS);
  });

  it('with neither, everybody is forbidden (the server refuses to start this way)', () => {
    const none = new StreamAccess();
    expect(none.check(undefined, '127.0.0.1')).toEqual(FORBIDDEN);
    expect(none.check(RIGHT, '127.0.0.1')).toEqual(FORBIDDEN);
  });
});
