/**
 * The checks every fuzz target applies, shared by test/fuzz/targets*.ts and the fast-check
 * fuzz files (test/sip/fuzz.test.ts, test/sdp/sdp-fuzz.test.ts, test/sip/auth-phone-fuzz.test.ts).
 *
 * - A parser given bad input may refuse it with one of our typed errors (a `BridgeError`
 *   subclass); anything else escaping is a finding.
 * - Once a parser has accepted an input, the refusal allowance is over: serializing what it
 *   returned, re-parsing that, and comparing must all succeed. Any error in that second half,
 *   typed or not, is a finding (a serializer that writes what our own parser rejects).
 */
import { isDeepStrictEqual } from 'node:util';

import { BridgeError } from '../../src/errors.js';

/** A target found a real defect; `message` says which. */
export class FuzzFailure extends Error {
  override readonly name = 'FuzzFailure';
}

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * Runs a parser: returns its result, or `undefined` when it refused the input with a
 * `BridgeError`. Anything else thrown becomes a FuzzFailure.
 */
export function parseOrRefuse<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch (err) {
    if (err instanceof FuzzFailure) throw err;
    if (err instanceof BridgeError) return undefined;
    throw new FuzzFailure(`untyped ${describeError(err)}`);
  }
}

/** Runs a step that must not fail at all (a serializer of parsed data, a re-parse). */
export function mustSucceed<T>(step: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FuzzFailure) throw err;
    throw new FuzzFailure(`${step} threw ${describeError(err)}`);
  }
}

/** How one format round-trips: what the parser gave, its serialization, and a comparison. */
export interface RoundTrip<M, S> {
  /** The format, for messages ("SIP", "SDP", "RTP"...). */
  format: string;
  serialize(model: M): S;
  parse(serialized: S): M;
  /** What must agree between the first parse and the re-parse (defaults to the model). */
  view?(model: M): unknown;
  /** Compare serialize(reparse) with serialize(first) too (default true). */
  sameBytes?: boolean;
}

function sameSerialized(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && Buffer.compare(a, b) === 0;
  }
  return isDeepStrictEqual(a, b);
}

function show(v: unknown): string {
  const s =
    v instanceof Uint8Array
      ? Buffer.from(v).toString('latin1')
      : JSON.stringify(v, (_k, x: unknown) =>
          x instanceof Map ? [...x] : typeof x === 'bigint' ? `${x}n` : x,
        );
  return JSON.stringify(s.length > 300 ? `${s.slice(0, 300)}…` : s);
}

/**
 * The strict round trip of something a parser accepted: serialize it, re-parse the result,
 * and require the re-parse to equal the first parse (through `view`) and, unless
 * `sameBytes` is false, serialize(re-parse) === serialize(first). Nothing here is allowed
 * to throw, typed or not.
 */
export function roundTrip<M, S>(first: M, rt: RoundTrip<M, S>): void {
  const once = mustSucceed(`${rt.format} serialize(parse(input))`, () => rt.serialize(first));
  const again = mustSucceed(`${rt.format} parse(serialize(parse(input)))`, () => rt.parse(once));
  const view = rt.view ?? ((m: M): unknown => m);
  const a = view(first);
  const b = view(again);
  if (!isDeepStrictEqual(a, b)) {
    throw new FuzzFailure(
      `${rt.format} parse(serialize(m)) differs from m: ${show(a)} became ${show(b)} (serialized ${show(once)})`,
    );
  }
  if (rt.sameBytes === false) return;
  const twice = mustSucceed(`${rt.format} serialize(parse(serialize(m)))`, () => rt.serialize(again));
  if (!sameSerialized(once, twice)) {
    throw new FuzzFailure(
      `${rt.format} serialize(parse(serialize(m))) differs: ${show(once)} became ${show(twice)}`,
    );
  }
}
