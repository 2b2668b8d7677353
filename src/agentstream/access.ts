/**
 * Who may open an AgentStream: Exotel authenticates with Basic auth written into the
 * stream URL (`wss://KEY:TOKEN@host/path`), or comes from an allow-listed address. Pure:
 * the server passes the request's `Authorization` header and peer address.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import type { StreamCredentials } from './types.js';

/** The verdict on one upgrade request. */
export type AccessVerdict = { ok: true; by: 'address' | 'credentials' } | { ok: false; status: 401 | 403 };

/** Checks upgrade requests against the allow-list and the credentials. */
export class StreamAccess {
  private readonly allow = new BlockList();
  private readonly anyAllowed: boolean;
  private readonly expected: Buffer | undefined;

  /** Throws `ConfigError` for an address that is neither an IP nor a CIDR block, or empty credentials. */
  constructor(allowFrom: readonly string[] = [], auth?: StreamCredentials) {
    const issues: string[] = [];
    for (const entry of allowFrom) {
      const [addr = '', bits, extra] = entry.trim().split('/');
      const family = isIP(addr);
      const max = family === 6 ? 128 : 32;
      const prefix = bits === undefined ? max : /^[0-9]{1,3}$/.test(bits) ? Number(bits) : NaN;
      if (family === 0 || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
        issues.push(`allowFrom: ${JSON.stringify(entry)} is not an IP address or CIDR block`);
        continue;
      }
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (prefix === max) this.allow.addAddress(addr, type);
      else this.allow.addSubnet(addr, prefix, type);
    }
    if (auth !== undefined && (auth.username === '' || auth.password === ''))
      issues.push('auth: username and password must not be empty');
    if (auth !== undefined && auth.username.includes(':'))
      issues.push('auth: the username must not contain ":"');
    if (issues.length > 0) throw new ConfigError(issues);
    this.anyAllowed = allowFrom.length > 0;
    this.expected = auth === undefined ? undefined : digest(`${auth.username}:${auth.password}`);
  }

  /** Whether neither an allow-list nor credentials were given (the server refuses to start then). */
  get open(): boolean {
    return !this.anyAllowed && this.expected === undefined;
  }

  check(authorization: string | undefined, address: string): AccessVerdict {
    if (this.anyAllowed && allowed(this.allow, address)) return { ok: true, by: 'address' };
    if (this.expected === undefined) return { ok: false, status: 403 };
    const presented = basicCredentials(authorization);
    // compare digests, so the time taken says nothing about the secret's length or content
    if (presented !== undefined && timingSafeEqual(digest(presented), this.expected))
      return { ok: true, by: 'credentials' };
    return { ok: false, status: 401 };
  }
}

/** `user:password` of a `Basic` Authorization header, or undefined. */
export function basicCredentials(header: string | undefined): string | undefined {
  if (header === undefined || header.length > 1024) return undefined;
  const m = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
  if (m === null) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  return decoded.includes(':') ? decoded : undefined;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function allowed(list: BlockList, address: string): boolean {
  // an IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (v4 !== undefined) return list.check(v4, 'ipv4');
  const family = isIP(address);
  if (family === 0) return false;
  return list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}
