/**
 * TCP/TLS stream framing (RFC 3261 §18.3): turns arbitrary chunks into whole SIP messages.
 *
 * The header section ends at the first empty line; the body is exactly Content-Length bytes
 * (mandatory on streams). CRLFs between messages are keep-alives (RFC 5626 §4.4.1): a
 * double CRLF is a ping (answer it with a single CRLF pong), a single CRLF is a pong.
 * Only time tells a ping split across chunks (CRLF | CRLF) from two pongs, and the framer
 * keeps no clock: a lone CRLF at the end of a chunk is reported as a pong at once, and a
 * CRLF arriving next completes a ping. The side that sends pings calls `pongTaken()` once
 * it took a pong as its answer, so that the next pong is not read as the second half of a
 * ping.
 *
 * Bounded: a header section or message larger than `maxMessageBytes`, or more than
 * `maxHeaders` header lines, raises `SipMessageTooLargeError` without buffering more than
 * the limit (plus, transiently, the chunk being pushed). A declared Content-Length that does
 * not fit is rejected as soon as the header section is complete. After any error the framer
 * is poisoned: the connection must be closed, and further pushes throw the same error.
 *
 * Efficient: the scan position is remembered between chunks (no re-scan from the start), a
 * chunk is parsed in place when nothing is buffered, and the buffer grows geometrically.
 */
import { SipMessageTooLargeError, SipParseError, toBridgeError, type BridgeError } from '../errors.js';
import { Buffer } from 'node:buffer';

import { asBuffer, copyBytes, decodeUtf8 } from './bytes.js';
import type { SipMessage } from './message.js';
import { parseHead } from './parser.js';

/** A keep-alive seen between messages: `ping` = double CRLF, `pong` = single CRLF. */
export type SipKeepAliveKind = 'ping' | 'pong';

/** Options of `SipStreamFramer`. */
export interface SipStreamFramerOptions {
  /** Largest header section or whole message accepted, in bytes (default 65536). */
  maxMessageBytes?: number;
  /** Most header lines per message, folded continuation lines included (default 100). */
  maxHeaders?: number;
  /** Called synchronously for each keep-alive seen between messages. */
  onKeepAlive?: (kind: SipKeepAliveKind) => void;
}

/**
 * What one `push` produced: the whole messages now available, in order (the batch is an
 * array of them), plus the keep-alives seen in the same bytes.
 */
export interface SipFramerBatch extends Array<SipMessage> {
  /** The same messages (the batch itself), for destructuring-style use. */
  readonly messages: SipMessage[];
  /** Double-CRLF pings seen in this chunk; answer each burst with one CRLF. */
  readonly keepAlivePings: number;
  /** Single-CRLF pongs seen in this chunk. */
  readonly keepAlivePongs: number;
}

type FramerState = 'idle' | 'head' | 'body';

const EMPTY = Buffer.alloc(0);

function makeBatch(messages: SipMessage[], pings: number, pongs: number): SipFramerBatch {
  Object.defineProperties(messages, {
    messages: { value: messages, enumerable: false },
    keepAlivePings: { value: pings, enumerable: false },
    keepAlivePongs: { value: pongs, enumerable: false },
  });
  return messages as SipFramerBatch;
}

/** Splits a SIP byte stream into messages. See the module comment for the guarantees. */
export class SipStreamFramer {
  /** Limit on a header section or whole message, in bytes. */
  readonly maxMessageBytes: number;
  /** Limit on header lines per message. */
  readonly maxHeaders: number;
  /** Total double-CRLF pings seen since creation. */
  keepAlivePings = 0;
  /** Total single-CRLF pongs seen since creation. */
  keepAlivePongs = 0;

  private readonly onKeepAlive: ((kind: SipKeepAliveKind) => void) | undefined;
  private buf: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  private state: FramerState = 'idle';
  // Offsets into the current data (shifted when bytes move into or inside `buf`).
  private msgStart = 0;
  private lineStart = 0;
  private scanPos = 0;
  private bodyStart = 0;
  private msgEnd = 0;
  private headerLines = 0;
  private pendingHead: SipMessage | undefined;
  private halfPing = false;
  private halfReported = false;
  private error: BridgeError | undefined;

  /** A framer at the start of a stream (defaults: 64 KiB per message, 100 header lines). */
  constructor(options: SipStreamFramerOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? 65536;
    this.maxHeaders = options.maxHeaders ?? 100;
    this.onKeepAlive = options.onKeepAlive;
  }

  /** Bytes currently held for an incomplete message. */
  get bufferedBytes(): number {
    return this.end - this.start;
  }

  /**
   * The caller took the pong just reported as the answer to its own ping (RFC 5626
   * §4.4.1, the pinging side): a CRLF arriving next starts a new keep-alive instead of
   * completing a ping with the CRLF already reported.
   */
  pongTaken(): void {
    if (this.halfReported) this.halfPing = false;
  }

  /** True once an error poisoned the framer (the connection must be closed). */
  get failed(): boolean {
    return this.error !== undefined;
  }

  /**
   * Feeds the next chunk of the stream. Returns the messages completed by it, in order.
   * Throws `SipParseError` or `SipMessageTooLargeError`; after that every call throws.
   */
  push(chunk: Uint8Array): SipFramerBatch {
    if (this.error !== undefined) throw this.error;
    const out: SipMessage[] = [];
    let pings = 0;
    let pongs = 0;
    const note = (kind: SipKeepAliveKind): void => {
      if (kind === 'ping') {
        pings++;
        this.keepAlivePings++;
      } else {
        pongs++;
        this.keepAlivePongs++;
      }
      this.onKeepAlive?.(kind);
    };

    const input = asBuffer(chunk);
    let data: Buffer;
    if (this.start === this.end) {
      // Nothing buffered: parse the chunk in place; offsets restart at 0.
      this.rebase(-this.start);
      data = input;
      this.start = 0;
      this.end = chunk.length;
    } else {
      this.append(input);
      data = this.buf.subarray(0, this.end);
    }

    try {
      this.run(data, out, note);
    } catch (err) {
      // Our own errors pass through; anything else is a bug here, not bad input.
      this.error = toBridgeError(err);
      this.buf = EMPTY;
      this.start = 0;
      this.end = 0;
      throw this.error;
    }

    if (data === input) {
      // Keep only the unconsumed tail, copied (the caller may reuse its chunk).
      const rest = this.end - this.start;
      if (rest > 0) {
        if (this.buf.length < rest) this.buf = Buffer.alloc(Math.max(rest, 4096));
        this.buf.set(input.subarray(this.start, this.end), 0);
      }
      this.rebase(-this.start);
      this.start = 0;
      this.end = rest;
    } else if (this.start === this.end) {
      this.rebase(-this.start);
      this.start = 0;
      this.end = 0;
    }
    if (this.halfPing && !this.halfReported && this.state === 'idle') {
      // A lone CRLF at the end of the data: report it now (a pong), but remember it so
      // that a CRLF arriving next still completes a ping.
      this.halfReported = true;
      note('pong');
    }
    return makeBatch(out, pings, pongs);
  }

  private rebase(delta: number): void {
    this.msgStart += delta;
    this.lineStart += delta;
    this.scanPos += delta;
    this.bodyStart += delta;
    this.msgEnd += delta;
  }

  private append(chunk: Uint8Array): void {
    const live = this.end - this.start;
    const need = live + chunk.length;
    if (this.end + chunk.length > this.buf.length) {
      if (need <= this.buf.length && this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const grown = Buffer.alloc(
          Math.max(need, Math.min(this.buf.length * 2, this.maxMessageBytes * 2), 4096),
        );
        grown.set(this.buf.subarray(this.start, this.end), 0);
        this.buf = grown;
      }
      this.rebase(-this.start);
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  private tooLarge(what: string, limit: number): SipMessageTooLargeError {
    return new SipMessageTooLargeError(`SIP ${what} exceeds ${limit}`, limit);
  }

  private run(data: Buffer, out: SipMessage[], note: (kind: SipKeepAliveKind) => void): void {
    const end = this.end;
    const max = this.maxMessageBytes;
    for (;;) {
      if (this.state === 'idle') {
        let p = this.start;
        while (p < end) {
          const b = data[p]!;
          if (b === 0x0a) {
            if (this.halfPing) {
              this.halfPing = false;
              note('ping');
            } else {
              this.halfPing = true;
              this.halfReported = false;
            }
          } else if (b !== 0x0d) {
            break;
          }
          p++;
        }
        this.start = p;
        if (p === end) return;
        if (this.halfPing) {
          if (!this.halfReported) note('pong');
          this.halfPing = false;
        }
        this.state = 'head';
        this.msgStart = p;
        this.lineStart = p;
        this.scanPos = p;
        this.headerLines = 0;
      }

      if (this.state === 'head') {
        let headEnd = -1;
        for (;;) {
          const lf = data.indexOf(0x0a, this.scanPos);
          if (lf < 0) {
            this.scanPos = end;
            break;
          }
          const ls = this.lineStart;
          if (lf === ls || (lf === ls + 1 && data[ls] === 0x0d)) {
            headEnd = ls;
            this.bodyStart = lf + 1;
            break;
          }
          if (++this.headerLines > this.maxHeaders + 1) {
            throw this.tooLarge(
              `message has more than ${this.maxHeaders} header lines; limit`,
              this.maxHeaders,
            );
          }
          this.lineStart = lf + 1;
          this.scanPos = lf + 1;
        }
        if (headEnd < 0) {
          if (end - this.msgStart > max) throw this.tooLarge('header section', max);
          return;
        }
        if (this.bodyStart - this.msgStart > max) throw this.tooLarge('header section', max);
        const { message, contentLength } = parseHead(decodeUtf8(data, this.msgStart, headEnd));
        if (contentLength === undefined) {
          throw new SipParseError('missing header (mandatory on streams)', 'Content-Length');
        }
        if (this.bodyStart - this.msgStart + contentLength > max) {
          throw this.tooLarge(`message (Content-Length ${contentLength})`, max);
        }
        this.pendingHead = message;
        this.msgEnd = this.bodyStart + contentLength;
        this.start = this.bodyStart; // the header bytes are no longer needed
        this.state = 'body';
      }

      // state === 'body'
      if (end < this.msgEnd) return;
      const message = this.pendingHead!;
      if (this.msgEnd > this.bodyStart) message.body = copyBytes(data, this.bodyStart, this.msgEnd);
      this.pendingHead = undefined;
      out.push(message);
      this.start = this.msgEnd;
      this.state = 'idle';
    }
  }
}
