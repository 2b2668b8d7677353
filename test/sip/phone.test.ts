import { describe, expect, it } from 'vitest';

import { ConfigError, InvalidHeaderError, InvalidPhoneNumberError } from '../../src/errors.js';
import {
  assertHeaderName,
  assertSafeHeaderValue,
  isE164,
  normalizePhoneNumber,
  validateCallerId,
} from '../../src/sip/phone.js';

describe('normalizePhoneNumber', () => {
  it.each([
    ['+91 98765 43210', '+919876543210'],
    ['098765 43210', '+919876543210'],
    ['9876543210', '+919876543210'],
    ['919876543210', '+919876543210'],
    ['+14155550100', '+14155550100'],
    ['+1 (415) 555-0100', '+14155550100'],
    ['0091 98765-43210', '+919876543210'],
    ['0014155550100', '+14155550100'],
    ['  +44.20.7946.0018 ', '+442079460018'],
    ['080 4431 9240', '+918044319240'],
  ])('%j → %s', (input, expected) => {
    expect(normalizePhoneNumber(input)).toBe(expected);
  });

  it('uses the default country code for national numbers', () => {
    expect(normalizePhoneNumber('(415) 555-0100', { defaultCountryCode: '1' })).toBe('+14155550100');
    expect(normalizePhoneNumber('14155550100', { defaultCountryCode: '1' })).toBe('+14155550100');
    expect(normalizePhoneNumber('020 7946 0018', { defaultCountryCode: '44' })).toBe('+442079460018');
  });

  it.each([
    ['letters', '98765abcde'],
    ['an at sign', '9876543210@evil.com'],
    ['a semicolon', '9876543210;tag=x'],
    ['angle brackets', '<9876543210>'],
    ['a comma', '98765,43210'],
    ['a double quote', '"9876543210"'],
    ['CR LF', '9876543210\r\nVia: x'],
    ['NUL', '98765\u000043210'],
    ['a tab', '98765\t43210'],
    ['a sip: prefix', 'sip:+919876543210'],
    ['a tel: prefix', 'tel:+919876543210'],
    ['a second plus', '+91+9876543210'],
    ['a plus after digits', '91+9876543210'],
    ['too few digits', '+9112345'],
    ['too many digits', '+9198765432101234'],
    ['a country code starting with 0', '+0123456789'],
    ['nothing but separators', ' - . '],
    ['an empty string', ''],
    ['unicode digits', '९८७६५४३२१०'],
  ])('refuses %s', (_what, input) => {
    expect(() => normalizePhoneNumber(input)).toThrow(InvalidPhoneNumberError);
  });

  it('never echoes raw control characters in its message', () => {
    try {
      normalizePhoneNumber('98765\r\n43210');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidPhoneNumberError);
      const message = (err as Error).message;
      expect(message).not.toMatch(/[\r\n]/);
      expect(message).toContain('"98765\\r\\n43210"');
      expect(message).toContain('"\\r" is not allowed');
    }
  });

  it('says a URI was given', () => {
    expect(() => normalizePhoneNumber('sip:+919876543210@x')).toThrow(/not a URI/);
  });

  it('refuses a non-string input and a bad default country code', () => {
    expect(() => normalizePhoneNumber(9876543210 as unknown as string)).toThrow(InvalidPhoneNumberError);
    expect(() => normalizePhoneNumber('9876543210', { defaultCountryCode: '0' })).toThrow(ConfigError);
    expect(() => normalizePhoneNumber('9876543210', { defaultCountryCode: '+91' })).toThrow(ConfigError);
    expect(() => normalizePhoneNumber('9876543210', { defaultCountryCode: '1234' })).toThrow(ConfigError);
  });

  it('isE164 recognises only normalized numbers', () => {
    expect(isE164('+919876543210')).toBe(true);
    expect(isE164('+0123456789')).toBe(false);
    expect(isE164('919876543210')).toBe(false);
    expect(isE164('+1234567')).toBe(false);
    expect(isE164('+1234567890123456')).toBe(false);
  });
});

describe('validateCallerId', () => {
  it('keeps the number as written, separators removed', () => {
    expect(validateCallerId('08044319240')).toBe('08044319240');
    expect(validateCallerId('080-4431 9240')).toBe('08044319240');
    expect(validateCallerId('+91 80 4431 9240')).toBe('+918044319240');
    expect(validateCallerId('100')).toBe('100');
  });

  it.each(['12', '+1234567890123456', 'anonymous', '0804431924;x', '08044319240\r\n', 'sip:0804@x', ''])(
    'refuses %j',
    (input) => {
      expect(() => validateCallerId(input)).toThrow(InvalidPhoneNumberError);
    },
  );
});

describe('assertHeaderName', () => {
  it('accepts X- tokens', () => {
    expect(() => assertHeaderName('X-Crm-Id')).not.toThrow();
    expect(() => assertHeaderName('x-lk-room')).not.toThrow();
  });

  it.each([
    'Via',
    'via',
    'v',
    'From',
    'f',
    'To',
    't',
    'Call-ID',
    'i',
    'CSeq',
    'Contact',
    'm',
    'Content-Length',
    'l',
    'Content-Type',
    'c',
    'Max-Forwards',
    'Route',
    'Record-Route',
  ])('refuses the core header %s even without the X- rule', (name) => {
    expect(() => assertHeaderName(name, { requireXPrefix: false })).toThrow(InvalidHeaderError);
  });

  it('refuses names that are not tokens', () => {
    for (const name of ['', 'X-A B', 'X-A:B', 'X-A\r\nVia', 'X-Ä', 'X-A\u0000']) {
      expect(() => assertHeaderName(name)).toThrow(InvalidHeaderError);
    }
  });

  it('requires X- unless told otherwise', () => {
    expect(() => assertHeaderName('P-Asserted-Identity')).toThrow(/must start with "X-"/);
    expect(() => assertHeaderName('X-')).toThrow(InvalidHeaderError);
    expect(() => assertHeaderName('P-Asserted-Identity', { requireXPrefix: false })).not.toThrow();
  });
});

describe('assertSafeHeaderValue', () => {
  it('accepts ordinary values including tabs and UTF-8', () => {
    expect(() => assertSafeHeaderValue('X-A', 'room-1; priority=high')).not.toThrow();
    expect(() => assertSafeHeaderValue('X-A', 'a\tb')).not.toThrow();
    expect(() => assertSafeHeaderValue('X-A', 'नमस्ते')).not.toThrow();
    expect(() => assertSafeHeaderValue('X-A', '')).not.toThrow();
  });

  it.each([
    ['CR', 'a\rb'],
    ['LF', 'a\nb'],
    ['CRLF injection', 'x\r\nVia: SIP/2.0/TCP evil'],
    ['NUL', 'a\u0000b'],
    ['ESC', 'a\u001bb'],
    ['DEL', 'a\u007fb'],
  ])('refuses %s', (_what, value) => {
    expect(() => assertSafeHeaderValue('X-A', value)).toThrow(InvalidHeaderError);
  });

  it('refuses overlong and non-string values', () => {
    expect(() => assertSafeHeaderValue('X-A', 'a'.repeat(4097))).toThrow(InvalidHeaderError);
    expect(() => assertSafeHeaderValue('X-A', 5 as unknown as string)).toThrow(InvalidHeaderError);
  });

  it('names the position without echoing the control character raw', () => {
    expect(() => assertSafeHeaderValue('X-A', 'ab\r')).toThrow(
      'value of "X-A" contains the control character "\\r" at index 2',
    );
  });
});
