/**
 * Phone numbers and user-supplied header names and values: everything that a caller of
 * the library can put into a SIP message is checked here before it gets near the wire.
 *
 * ## Phone number rules ({@link normalizePhoneNumber})
 * - Allowed characters: digits, one leading `+`, and the separators space, `-`, `.`, `(`
 *   and `)`. Separators are removed. Anything else (letters, `@`, `;`, `<`, `>`, `,`, `"`,
 *   `:`, tabs, CR, LF, NUL, a `sip:`/`tel:` prefix, a second `+`) is refused.
 * - `+<digits>` is already international. `00<digits>` is the international call prefix
 *   and becomes `+<digits>`.
 * - `0<digits>` is a national number with its trunk prefix: the `0` is replaced by
 *   `+<defaultCountryCode>` (`098765 43210` → `+919876543210`).
 * - Other bare digits are a national number in the default country, except that a bare
 *   number of more than 10 digits that begins with the default country code is taken to
 *   include it already (`919876543210` → `+919876543210`, `14155550100` with country `1`
 *   → `+14155550100`).
 * - The result is E.164: `+`, a country code that does not start with `0`, and 8 to 15
 *   digits in all.
 *
 * ## Caller ids ({@link validateCallerId})
 * Exotel's virtual numbers ("Exophones") are usually written nationally with a leading
 * `0` (`08044319240`) and Exotel expects them as written, so a caller id is not rewritten
 * to E.164: separators are removed and the rest is returned as is (digits with an
 * optional leading `+`, 3 to 15 digits).
 */
import { ConfigError, InvalidHeaderError, InvalidPhoneNumberError } from '../errors.js';
import { canonicalHeaderName } from './message.js';

const MIN_E164_DIGITS = 8;
const MAX_E164_DIGITS = 15;
const MIN_CALLER_ID_DIGITS = 3;

/** Options of {@link normalizePhoneNumber}. */
export interface NormalizePhoneNumberOptions {
  /** Country calling code for national numbers, digits only (default `'91'`, India). */
  defaultCountryCode?: string;
}

// Shows the input in an error message: quoted and escaped, never raw control characters.
function show(input: string): string {
  return JSON.stringify(input.length > 64 ? `${input.slice(0, 64)}…` : input);
}

function isSeparator(c: number): boolean {
  return c === 0x20 || c === 0x2d /* - */ || c === 0x2e /* . */ || c === 0x28 /* ( */ || c === 0x29; /* ) */
}

/**
 * Removes separators and checks the characters. Returns `+` (when the input starts with
 * one) followed by the digits.
 */
function stripNumber(input: unknown, what: string): string {
  if (typeof input !== 'string') {
    throw new InvalidPhoneNumberError(`${what} must be a string, got ${typeof input}`);
  }
  let out = '';
  let digits = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      out += input[i];
      digits++;
    } else if (c === 0x2b /* + */) {
      if (out.length > 0) {
        throw new InvalidPhoneNumberError(`${what} ${show(input)}: "+" is only allowed at the start`);
      }
      out = '+';
    } else if (!isSeparator(c)) {
      const lower = input.trim().toLowerCase();
      if (lower.startsWith('sip:') || lower.startsWith('sips:') || lower.startsWith('tel:')) {
        throw new InvalidPhoneNumberError(`${what} ${show(input)}: give the bare number, not a URI`);
      }
      throw new InvalidPhoneNumberError(
        `${what} ${show(input)}: character ${JSON.stringify(input[i])} is not allowed`,
      );
    }
  }
  if (digits === 0) throw new InvalidPhoneNumberError(`${what} ${show(input)} has no digits`);
  return out;
}

function checkCountryCode(cc: string): void {
  if (!/^[1-9][0-9]{0,2}$/.test(cc)) {
    throw new ConfigError([`defaultCountryCode must be 1 to 3 digits not starting with 0, got ${show(cc)}`]);
  }
}

/**
 * Normalizes a phone number to E.164 (`+919876543210`). See the module notes for the
 * exact rules; the short version: `+…` and `00…` are international, `0…` and other bare
 * digits are national numbers in `defaultCountryCode`.
 *
 * @example normalizePhoneNumber('098765 43210') // '+919876543210'
 * @example normalizePhoneNumber('+1 (415) 555-0100') // '+14155550100'
 * @throws InvalidPhoneNumberError for anything that is not a plain dialable number.
 * @throws ConfigError when `defaultCountryCode` is not 1–3 digits.
 */
export function normalizePhoneNumber(input: string, options: NormalizePhoneNumberOptions = {}): string {
  const cc = options.defaultCountryCode ?? '91';
  checkCountryCode(cc);
  const stripped = stripNumber(input, 'phone number');
  let digits: string;
  if (stripped.startsWith('+')) digits = stripped.slice(1);
  else if (stripped.startsWith('00')) digits = stripped.slice(2);
  else if (stripped.startsWith('0')) digits = cc + stripped.slice(1);
  else if (stripped.length > 10 && stripped.startsWith(cc)) digits = stripped;
  else digits = cc + stripped;
  if (digits.startsWith('0')) {
    throw new InvalidPhoneNumberError(`phone number ${show(input)}: a country code cannot start with 0`);
  }
  if (digits.length < MIN_E164_DIGITS) {
    throw new InvalidPhoneNumberError(
      `phone number ${show(input)} is too short (${digits.length} digits with country code, at least ${MIN_E164_DIGITS})`,
    );
  }
  if (digits.length > MAX_E164_DIGITS) {
    throw new InvalidPhoneNumberError(
      `phone number ${show(input)} is too long (${digits.length} digits with country code, E.164 allows ${MAX_E164_DIGITS})`,
    );
  }
  return `+${digits}`;
}

/** True when `s` is already an E.164 number (`+`, a non-zero digit, 8–15 digits in all). */
export function isE164(s: string): boolean {
  return /^\+[1-9][0-9]{7,14}$/.test(s);
}

/**
 * Checks a caller id (the Exophone placed in `From`) and returns it with separators
 * removed but otherwise unchanged: `'080 4431 9240'` → `'08044319240'`,
 * `'+91 80 4431 9240'` → `'+918044319240'`. Digits with an optional leading `+`, 3 to
 * 15 digits.
 *
 * @throws InvalidPhoneNumberError otherwise.
 */
export function validateCallerId(input: string): string {
  const stripped = stripNumber(input, 'caller id');
  const digits = stripped.startsWith('+') ? stripped.length - 1 : stripped.length;
  if (digits < MIN_CALLER_ID_DIGITS || digits > MAX_E164_DIGITS) {
    throw new InvalidPhoneNumberError(
      `caller id ${show(input)} must have ${MIN_CALLER_ID_DIGITS} to ${MAX_E164_DIGITS} digits, got ${digits}`,
    );
  }
  return stripped;
}

// ------------------------------------------------------------------ header names and values

/**
 * Headers a caller may never set through "extra headers": the library writes them itself
 * and a second copy would change routing, dialog identity or framing.
 */
export const PROTECTED_HEADER_NAMES: readonly string[] = [
  'Via',
  'From',
  'To',
  'Call-ID',
  'CSeq',
  'Contact',
  'Content-Length',
  'Content-Type',
  'Max-Forwards',
  'Route',
  'Record-Route',
];
const PROTECTED = new Set(PROTECTED_HEADER_NAMES);

/** Options of {@link assertHeaderName}. */
export interface AssertHeaderNameOptions {
  /** Only accept `X-…` extension headers (default `true`). */
  requireXPrefix?: boolean;
}

function isTokenChar(c: number): boolean {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  return "-.!%*_+`'~".includes(String.fromCharCode(c));
}

/**
 * Checks a user-supplied header name: an RFC 3261 `token`, not one of the
 * {@link PROTECTED_HEADER_NAMES} (compact forms included) and, unless
 * `requireXPrefix: false`, starting with `X-`.
 *
 * @throws InvalidHeaderError when the name is refused.
 */
export function assertHeaderName(name: string, options: AssertHeaderNameOptions = {}): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidHeaderError('header name must be a non-empty string');
  }
  for (let i = 0; i < name.length; i++) {
    if (!isTokenChar(name.charCodeAt(i))) {
      throw new InvalidHeaderError(
        `header name ${show(name)} is not a token (character ${JSON.stringify(name[i])})`,
      );
    }
  }
  const canonical = canonicalHeaderName(name);
  if (PROTECTED.has(canonical)) {
    throw new InvalidHeaderError(`header ${canonical} is set by the library and cannot be supplied`);
  }
  if ((options.requireXPrefix ?? true) && !/^x-./i.test(name)) {
    throw new InvalidHeaderError(`header name ${show(name)} must start with "X-"`);
  }
}

/** The longest header value {@link assertSafeHeaderValue} accepts. */
export const MAX_HEADER_VALUE_LENGTH = 4096;

/**
 * Checks a user-supplied header value: a string without CR, LF, NUL, DEL or any other
 * control character except horizontal tab, at most {@link MAX_HEADER_VALUE_LENGTH}
 * characters. `name` is only used in the error message.
 *
 * @throws InvalidHeaderError when the value could corrupt or inject into a SIP message.
 */
export function assertSafeHeaderValue(name: string, value: string): void {
  if (typeof value !== 'string') {
    throw new InvalidHeaderError(`value of ${show(String(name))} must be a string, got ${typeof value}`);
  }
  if (value.length > MAX_HEADER_VALUE_LENGTH) {
    throw new InvalidHeaderError(
      `value of ${show(name)} is longer than ${MAX_HEADER_VALUE_LENGTH} characters`,
    );
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      throw new InvalidHeaderError(
        `value of ${show(name)} contains the control character ${JSON.stringify(value[i])} at index ${i}`,
      );
    }
  }
}
