/** Property-based tests of digest challenges, phone numbers and header values (moved out of the SDP fuzz file). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  InvalidHeaderError,
  InvalidPhoneNumberError,
  SipAuthError,
  SipParseError,
} from '../../src/errors.js';
import { buildDigestAuthorization } from '../../src/sip/digest.js';
import { parseAuthChallenge } from '../../src/sip/headers.js';
import { assertSafeHeaderValue, normalizePhoneNumber } from '../../src/sip/phone.js';
import { fuzzSeed } from '../fuzz/runner.js';

/** The seed varies per run (`fuzz seed: N` is printed; FUZZ_SEED=N reproduces it). */
const RUNS = { seed: fuzzSeed(), numRuns: 400 };

/** Runs `fn`; passes when it returns or throws one of `allowed`. */
function onlyThrows(fn: () => unknown, ...allowed: (abstract new (...args: never[]) => Error)[]): void {
  try {
    fn();
  } catch (err) {
    if (!allowed.some((cls) => err instanceof cls)) throw err;
  }
}

const token = fc.stringMatching(/^[A-Za-z0-9-]{1,8}$/);

describe('digest fuzzing', () => {
  const paramName = fc.constantFrom(
    'realm',
    'nonce',
    'opaque',
    'algorithm',
    'qop',
    'stale',
    'userhash',
    'domain',
    'x',
  );
  const paramValue = fc.oneof(
    fc.constantFrom(
      'MD5',
      'md5-sess',
      'SHA-256',
      'SHA-256-sess',
      'SHA-512-256',
      'auth',
      'auth-int',
      'true',
      'SHA-1',
    ),
    fc.string({ unit: 'binary', maxLength: 12 }).map((s) => JSON.stringify(s)),
    token,
  );
  const challengeText = fc.oneof(
    fc
      .tuple(
        fc.constantFrom('Digest', 'digest', 'Basic', 'Bearer'),
        fc.array(fc.tuple(paramName, paramValue), { maxLength: 7 }),
      )
      .map(([scheme, params]) => `${scheme} ${params.map(([n, v]) => `${n}=${v}`).join(', ')}`),
    fc.string({ unit: 'binary', maxLength: 80 }),
  );

  it('parse + answer throw only typed errors; answers are one clean header line', () => {
    fc.assert(
      fc.property(
        challengeText,
        fc.string({ unit: 'binary', maxLength: 10 }),
        fc.string({ maxLength: 10 }),
        (text, user, pass) => {
          onlyThrows(
            () => {
              const c = parseAuthChallenge(text, 'WWW-Authenticate');
              const { name, value } = buildDigestAuthorization(c, {
                username: user,
                password: pass,
                method: 'INVITE',
                uri: 'sip:+919876543210@pstn.in1.exotel.com',
              });
              expect(name).toBe('Authorization');
              expect(value.startsWith('Digest username="')).toBe(true);
              expect(value).not.toMatch(/[\r\n\0]/);
              expect(value).toMatch(/response="[0-9a-f]{32,64}"/);
            },
            SipParseError,
            SipAuthError,
            InvalidHeaderError,
          );
        },
      ),
      RUNS,
    );
  });
});

describe('phone and header fuzzing', () => {
  it('normalizePhoneNumber returns E.164 or throws InvalidPhoneNumberError', () => {
    const phoneish = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 24 }),
      fc.stringMatching(/^[+0-9 ().-]{0,24}$/),
    );
    fc.assert(
      fc.property(phoneish, (s) =>
        onlyThrows(
          () => expect(normalizePhoneNumber(s)).toMatch(/^\+[1-9][0-9]{7,14}$/),
          InvalidPhoneNumberError,
        ),
      ),
      RUNS,
    );
  });

  it('assertSafeHeaderValue accepts only values without CR, LF, NUL or other controls', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (v) => {
        let ok = true;
        try {
          assertSafeHeaderValue('X-A', v);
        } catch (err) {
          if (!(err instanceof InvalidHeaderError)) throw err;
          ok = false;
        }
        // eslint-disable-next-line no-control-regex
        expect(ok).toBe(!/[\u0000-\u0008\u000a-\u001f\u007f]/.test(v));
      }),
      RUNS,
    );
  });
});
