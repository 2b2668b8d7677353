/**
 * Configuration in one place: explicit options win, the environment fills the gaps
 * (`LIVEKIT_*` and the seed's `EXOTEL_*` variables), and validation reports every
 * missing or invalid value at once in one `ConfigError`.
 */
import { isIP } from 'node:net';
import { ConfigError } from './errors.js';

export type SipTransportName = 'tcp' | 'udp' | 'tls';

export interface LiveKitSettings {
  /** `ws://` or `wss://` URL of the LiveKit server. */
  url: string;
  apiKey?: string;
  apiSecret?: string;
  /** A ready access token (then apiKey/apiSecret are optional). */
  token?: string;
}

export interface ExotelSettings {
  /** Exotel's SIP host (default `pstn.in1.exotel.com`). */
  sipHost: string;
  /** Exotel's SIP port (default 5070). */
  sipPort: number;
  /** Signalling transport (default `tcp`). */
  transport: SipTransportName;
  /** Our public IP, advertised in Via and Contact. */
  customerIp: string;
  /** Our SIP listening port (default 5061; 0 picks a free one and advertises it). */
  customerSipPort: number;
  /** Local address the SIP sockets bind to (default: customerIp). */
  sipBindIp: string;
  /** The IP the SDP advertises for RTP (default: customerIp). */
  mediaIp: string;
  /** The local IP the RTP socket binds to (default: mediaIp). Never 0.0.0.0 unless set so. */
  mediaBindIp: string;
  /** RTP port range, inclusive (default 10000–20000). */
  rtpPortRange: [number, number];
  /** The Exophone, used as caller id in From. */
  callerId: string;
  /** Domain of the From URI, e.g. `<account>.sip.exotel.com`. */
  fromDomain: string;
  /** Sent as `X-Exotel-AccountSid` when set. */
  accountSid?: string;
  /** Digest credentials, for trunks that challenge. */
  auth?: { username: string; password: string };
}

export interface BridgeConfig {
  livekit: LiveKitSettings;
  exotel: ExotelSettings;
}

/** Partial settings a caller may pass explicitly; anything missing comes from the environment. */
export interface ConfigInput {
  livekit?: Partial<LiveKitSettings>;
  exotel?: Partial<ExotelSettings>;
}

export type Env = Readonly<Record<string, string | undefined>>;

export const EXOTEL_DEFAULTS = {
  sipHost: 'pstn.in1.exotel.com',
  sipPort: 5070,
  transport: 'tcp' as SipTransportName,
  customerSipPort: 5061,
  rtpPortRange: [10000, 20000] as [number, number],
};

/** The environment variables read, and what each one sets. */
export const ENV_VARS = {
  LIVEKIT_URL: 'livekit.url',
  LIVEKIT_API_KEY: 'livekit.apiKey',
  LIVEKIT_API_SECRET: 'livekit.apiSecret',
  EXOTEL_SIP_HOST: 'exotel.sipHost',
  EXOTEL_SIP_PORT: 'exotel.sipPort',
  EXOTEL_SIP_TRANSPORT: 'exotel.transport',
  EXOTEL_CUSTOMER_IP: 'exotel.customerIp',
  EXOTEL_CUSTOMER_SIP_PORT: 'exotel.customerSipPort',
  EXOTEL_SIP_BIND_IP: 'exotel.sipBindIp',
  EXOTEL_MEDIA_IP: 'exotel.mediaIp',
  EXOTEL_MEDIA_BIND_IP: 'exotel.mediaBindIp',
  EXOTEL_RTP_PORT_RANGE: 'exotel.rtpPortRange',
  EXOTEL_CALLER_ID: 'exotel.callerId',
  EXOTEL_FROM_DOMAIN: 'exotel.fromDomain',
  EXOTEL_ACCOUNT_SID: 'exotel.accountSid',
  EXOTEL_SIP_USERNAME: 'exotel.auth.username',
  EXOTEL_SIP_PASSWORD: 'exotel.auth.password',
} as const;

const HOST_RE =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const TOKEN_RE = /^[A-Za-z0-9._~-]{1,128}$/;

function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t === undefined || t === '' ? undefined : t;
}

/**
 * Resolves the full configuration from explicit options and the environment, and
 * validates it. Throws one `ConfigError` listing every problem.
 */
export function resolveConfig(input: ConfigInput = {}, env: Env = process.env): BridgeConfig {
  const issues: string[] = [];
  const lk = input.livekit ?? {};
  const ex = input.exotel ?? {};

  const port = (
    name: string,
    explicit: number | undefined,
    raw: string | undefined,
    dflt?: number,
    min = 1,
  ) => {
    if (explicit !== undefined) {
      if (!Number.isInteger(explicit) || explicit < min || explicit > 65535)
        issues.push(`${name} must be a port number ${min}–65535 (got ${explicit})`);
      return explicit;
    }
    const r = nonEmpty(raw);
    if (r === undefined) {
      if (dflt === undefined) issues.push(`${name} is missing`);
      return dflt ?? 0;
    }
    const n = Number(r);
    if (!/^\d+$/.test(r) || n < min || n > 65535) {
      issues.push(`${name} must be a port number ${min}–65535 (got ${JSON.stringify(r)})`);
      return 0;
    }
    return n;
  };
  const ip = (name: string, v: string | undefined, required: boolean): string => {
    const t = nonEmpty(v);
    if (t === undefined) {
      if (required) issues.push(`${name} is missing`);
      return '';
    }
    if (isIP(t) === 0) issues.push(`${name} must be an IPv4 or IPv6 address (got ${JSON.stringify(t)})`);
    return t;
  };

  // LiveKit
  const url = nonEmpty(lk.url ?? env.LIVEKIT_URL);
  const apiKey = nonEmpty(lk.apiKey ?? env.LIVEKIT_API_KEY);
  const apiSecret = nonEmpty(lk.apiSecret ?? env.LIVEKIT_API_SECRET);
  const token = nonEmpty(lk.token);
  if (url === undefined) issues.push('LIVEKIT_URL (livekit.url) is missing');
  else if (!/^wss?:\/\/[^\s]+$/.test(url) && !/^https?:\/\/[^\s]+$/.test(url)) {
    issues.push(`LIVEKIT_URL must be a ws://, wss://, http:// or https:// URL (got ${JSON.stringify(url)})`);
  }
  if (token === undefined) {
    if (apiKey === undefined)
      issues.push('LIVEKIT_API_KEY (livekit.apiKey) is missing (or pass livekit.token)');
    if (apiSecret === undefined)
      issues.push('LIVEKIT_API_SECRET (livekit.apiSecret) is missing (or pass livekit.token)');
  }

  // Exotel
  const sipHost = nonEmpty(ex.sipHost ?? env.EXOTEL_SIP_HOST) ?? EXOTEL_DEFAULTS.sipHost;
  if (!HOST_RE.test(sipHost) && isIP(sipHost) === 0)
    issues.push(`EXOTEL_SIP_HOST must be a host name or IP (got ${JSON.stringify(sipHost)})`);
  const sipPort = port('EXOTEL_SIP_PORT', ex.sipPort, env.EXOTEL_SIP_PORT, EXOTEL_DEFAULTS.sipPort);
  const transportRaw = (
    ex.transport ??
    nonEmpty(env.EXOTEL_SIP_TRANSPORT) ??
    EXOTEL_DEFAULTS.transport
  ).toLowerCase();
  if (transportRaw !== 'tcp' && transportRaw !== 'udp' && transportRaw !== 'tls') {
    issues.push(`EXOTEL_SIP_TRANSPORT must be tcp, udp or tls (got ${JSON.stringify(transportRaw)})`);
  }
  const customerIp = ip(
    'EXOTEL_CUSTOMER_IP (exotel.customerIp)',
    ex.customerIp ?? env.EXOTEL_CUSTOMER_IP,
    true,
  );
  const customerSipPort = port(
    'EXOTEL_CUSTOMER_SIP_PORT',
    ex.customerSipPort,
    env.EXOTEL_CUSTOMER_SIP_PORT,
    EXOTEL_DEFAULTS.customerSipPort,
    0, // 0: listen on a free port and advertise it
  );
  const sipBindIp = ip('EXOTEL_SIP_BIND_IP', ex.sipBindIp ?? env.EXOTEL_SIP_BIND_IP, false) || customerIp;
  const mediaIp = ip('EXOTEL_MEDIA_IP', ex.mediaIp ?? env.EXOTEL_MEDIA_IP, false) || customerIp;
  const mediaBindIp =
    ip('EXOTEL_MEDIA_BIND_IP', ex.mediaBindIp ?? env.EXOTEL_MEDIA_BIND_IP, false) || mediaIp;

  let rtpPortRange = ex.rtpPortRange ?? EXOTEL_DEFAULTS.rtpPortRange;
  const rangeRaw = ex.rtpPortRange === undefined ? nonEmpty(env.EXOTEL_RTP_PORT_RANGE) : undefined;
  if (rangeRaw !== undefined) {
    const m = /^(\d+)\s*-\s*(\d+)$/.exec(rangeRaw);
    if (m) rtpPortRange = [Number(m[1]), Number(m[2])];
    else issues.push(`EXOTEL_RTP_PORT_RANGE must look like 10000-20000 (got ${JSON.stringify(rangeRaw)})`);
  }
  const [lo, hi] = rtpPortRange;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1024 || hi > 65535 || hi - lo < 1) {
    issues.push(`the RTP port range must be within 1024–65535 and hold at least two ports (got ${lo}-${hi})`);
  }

  const callerId = nonEmpty(ex.callerId ?? env.EXOTEL_CALLER_ID);
  if (callerId === undefined) issues.push('EXOTEL_CALLER_ID (exotel.callerId, your Exophone) is missing');
  else if (!/^\+?\d{3,15}$/.test(callerId.replace(/[\s-]/g, ''))) {
    issues.push(`EXOTEL_CALLER_ID must be a phone number of 3–15 digits (got ${JSON.stringify(callerId)})`);
  }
  const fromDomain = nonEmpty(ex.fromDomain ?? env.EXOTEL_FROM_DOMAIN);
  if (fromDomain === undefined)
    issues.push('EXOTEL_FROM_DOMAIN (exotel.fromDomain, e.g. <account>.sip.exotel.com) is missing');
  else if (!HOST_RE.test(fromDomain) && isIP(fromDomain) === 0)
    issues.push(`EXOTEL_FROM_DOMAIN must be a domain name (got ${JSON.stringify(fromDomain)})`);
  const accountSid = nonEmpty(ex.accountSid ?? env.EXOTEL_ACCOUNT_SID);
  if (accountSid !== undefined && !TOKEN_RE.test(accountSid))
    issues.push(
      `EXOTEL_ACCOUNT_SID has characters that cannot go in a SIP header (got ${JSON.stringify(accountSid)})`,
    );

  let auth = ex.auth;
  if (auth === undefined) {
    const u = nonEmpty(env.EXOTEL_SIP_USERNAME);
    const p = env.EXOTEL_SIP_PASSWORD;
    if (u !== undefined && p !== undefined && p !== '') auth = { username: u, password: p };
    else if (u !== undefined || (p !== undefined && p !== ''))
      issues.push('EXOTEL_SIP_USERNAME and EXOTEL_SIP_PASSWORD must be set together');
  }
  if (auth !== undefined && /[\r\n\0"\\]/.test(auth.username))
    issues.push('the SIP username has characters that cannot go in a SIP header');

  if (issues.length > 0) throw new ConfigError(issues);
  return {
    livekit: { url: url!, apiKey, apiSecret, token },
    exotel: {
      sipHost,
      sipPort,
      transport: transportRaw as SipTransportName,
      customerIp,
      customerSipPort,
      sipBindIp,
      mediaIp,
      mediaBindIp,
      rtpPortRange: [lo, hi],
      callerId: callerId!.replace(/[\s-]/g, ''),
      fromDomain: fromDomain!,
      accountSid,
      auth,
    },
  };
}

/** Reads and validates the whole configuration from the environment alone. */
export function loadConfigFromEnv(env: Env = process.env): BridgeConfig {
  return resolveConfig({}, env);
}
