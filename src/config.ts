/**
 * Configuration in one place: explicit options win, the environment fills the gaps
 * (`LIVEKIT_*` and `EXOTEL_*` variables, see `ENV_VARS`), and validation reports every
 * missing or invalid value at once in one `ConfigError`.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError } from './errors.js';

/** The SIP transport toward Exotel's trunk: TCP (Exotel's default), UDP, or TLS. */
export type SipTransportName = 'tcp' | 'udp' | 'tls';

/**
 * Where the LiveKit server is and how to authenticate to it: an API key and secret (the
 * bridge mints its own tokens), or a ready `token`.
 */
export interface LiveKitSettings {
  /** `ws://` or `wss://` URL of the LiveKit server. */
  url: string;
  /** LiveKit API key (`LIVEKIT_API_KEY`); needed unless `token` is given. */
  apiKey?: string;
  /** LiveKit API secret (`LIVEKIT_API_SECRET`); needed unless `token` is given. */
  apiSecret?: string;
  /** A ready access token (then apiKey/apiSecret are optional). */
  token?: string;
}

/**
 * Exotel's SIP trunk and how we appear to it: where to send INVITEs, the addresses we
 * advertise for signalling and media, the caller id, and optional auth, TLS and keepalive.
 */
export interface ExotelSettings {
  /** Exotel's SIP host (default `pstn.in1.exotel.com`). */
  sipHost: string;
  /** Exotel's SIP port (default 5070; 443 when `transport` is `tls`, as Exotel documents). */
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
  auth?: {
    /** The digest username (`EXOTEL_SIP_USERNAME`). */
    username: string;
    /** The digest password (`EXOTEL_SIP_PASSWORD`); never logged. */
    password: string;
  };
  /** TLS client settings for `transport: 'tls'` (verification against the system CAs by default). */
  tls?: ExotelTlsSettings;
  /** RFC 5626 CRLF keepalive interval on the trunk connection in ms (default 30000; 0 = off). */
  keepaliveIntervalMs?: number;
  /** Probe the trunk with OPTIONS this often in ms (default 0 = never). */
  optionsIntervalMs?: number;
  /** G.711 codecs in our order of preference (`EXOTEL_CODECS=PCMU,PCMA`; default PCMA then PCMU, Exotel's order). */
  codecs?: ('PCMA' | 'PCMU')[];
}

/** TLS client settings toward the trunk. */
export interface ExotelTlsSettings {
  /** PEM CA certificate(s) to trust instead of the system store (`EXOTEL_TLS_CA_FILE`). */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** PEM client certificate, for trunks that ask for one (`EXOTEL_TLS_CERT_FILE`). */
  cert?: string | Buffer;
  /** PEM private key of `cert` (`EXOTEL_TLS_KEY_FILE`). */
  key?: string | Buffer;
  /** Name to verify the trunk's certificate against and send as SNI (`EXOTEL_TLS_SERVERNAME`; default the SIP host). */
  servername?: string;
  /** Certificate verification; leave on outside tests. Default true. */
  rejectUnauthorized?: boolean;
}

/** The complete, validated settings every call runs with (made by {@link resolveConfig}). */
export interface BridgeConfig {
  /** The LiveKit server and its credentials. */
  livekit: LiveKitSettings;
  /** Exotel's trunk and our side of it, defaults filled in. */
  exotel: ExotelSettings;
}

/** Partial settings a caller may pass explicitly; anything missing comes from the environment. */
export interface ConfigInput {
  /** LiveKit settings; each one given here wins over its `LIVEKIT_*` variable. */
  livekit?: Partial<LiveKitSettings>;
  /** Exotel settings; each one given here wins over its `EXOTEL_*` variable. */
  exotel?: Partial<ExotelSettings>;
}

/** Environment variables by name, as `process.env` holds them (the default source). */
export type Env = Readonly<Record<string, string | undefined>>;

/** Defaults of the Exotel settings, as Exotel documents its trunk. */
export const EXOTEL_DEFAULTS = {
  /** Exotel's SIP host for India. */
  sipHost: 'pstn.in1.exotel.com',
  /** Exotel's SIP port over TCP and UDP. */
  sipPort: 5070,
  /** Exotel's SIP port over TLS. */
  tlsSipPort: 443,
  /** The signalling transport. */
  transport: 'tcp' as SipTransportName,
  /** The port our SIP listener takes. */
  customerSipPort: 5061,
  /** The RTP ports we pick from, inclusive. */
  rtpPortRange: [10000, 20000] as [number, number],
};

/** The environment variables read, and what each one sets. */
export const ENV_VARS = {
  /** The LiveKit server's `ws://` or `wss://` URL. */
  LIVEKIT_URL: 'livekit.url',
  /** The LiveKit API key. */
  LIVEKIT_API_KEY: 'livekit.apiKey',
  /** The LiveKit API secret. */
  LIVEKIT_API_SECRET: 'livekit.apiSecret',
  /** Exotel's SIP host (default `pstn.in1.exotel.com`). */
  EXOTEL_SIP_HOST: 'exotel.sipHost',
  /** Exotel's SIP port (default 5070, or 443 over TLS). */
  EXOTEL_SIP_PORT: 'exotel.sipPort',
  /** `tcp`, `udp` or `tls` (default `tcp`). */
  EXOTEL_SIP_TRANSPORT: 'exotel.transport',
  /** Our public IP, advertised to Exotel in Via and Contact. */
  EXOTEL_CUSTOMER_IP: 'exotel.customerIp',
  /** Our SIP listening port (default 5061). */
  EXOTEL_CUSTOMER_SIP_PORT: 'exotel.customerSipPort',
  /** Local address the SIP sockets bind to (default the customer IP). */
  EXOTEL_SIP_BIND_IP: 'exotel.sipBindIp',
  /** The IP advertised in SDP for RTP (default the customer IP). */
  EXOTEL_MEDIA_IP: 'exotel.mediaIp',
  /** Local address the RTP sockets bind to (default the media IP). */
  EXOTEL_MEDIA_BIND_IP: 'exotel.mediaBindIp',
  /** RTP ports to use, written `10000-20000` (inclusive). */
  EXOTEL_RTP_PORT_RANGE: 'exotel.rtpPortRange',
  /** The Exophone presented as caller id in From. */
  EXOTEL_CALLER_ID: 'exotel.callerId',
  /** Host of the From URI, e.g. `<account>.sip.exotel.com`. */
  EXOTEL_FROM_DOMAIN: 'exotel.fromDomain',
  /** Exotel account SID, sent as `X-Exotel-AccountSid`. */
  EXOTEL_ACCOUNT_SID: 'exotel.accountSid',
  /** Digest username, for trunks that challenge. */
  EXOTEL_SIP_USERNAME: 'exotel.auth.username',
  /** Digest password, for trunks that challenge. */
  EXOTEL_SIP_PASSWORD: 'exotel.auth.password',
  /** Path of a PEM file with the CA certificate(s) to trust for TLS to the trunk. */
  EXOTEL_TLS_CA_FILE: 'exotel.tls.ca',
  /** Path of a PEM client certificate, for trunks that ask for one. */
  EXOTEL_TLS_CERT_FILE: 'exotel.tls.cert',
  /** Path of the PEM private key of the client certificate. */
  EXOTEL_TLS_KEY_FILE: 'exotel.tls.key',
  /** Name to verify the trunk's certificate against and send as SNI. */
  EXOTEL_TLS_SERVERNAME: 'exotel.tls.servername',
  /** CRLF keepalive interval on the trunk connection, ms (default 30000; 0 turns it off). */
  EXOTEL_SIP_KEEPALIVE_MS: 'exotel.keepaliveIntervalMs',
  /** Interval of OPTIONS probes to the trunk, ms (default 0: never). */
  EXOTEL_SIP_OPTIONS_INTERVAL_MS: 'exotel.optionsIntervalMs',
  /** Codec preference, comma-separated: `PCMA,PCMU` (the default) or `PCMU,PCMA`, or one of them. */
  EXOTEL_CODECS: 'exotel.codecs',
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
export function resolveConfig(
  input: ConfigInput = {},
  env: Env = process.env,
  opts: {
    /** Whether the caller ID and From domain must be set (outbound calls); inbound listeners need neither. */
    caller?: 'required' | 'optional';
  } = {},
): BridgeConfig {
  const callerRequired = opts.caller !== 'optional';
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
  const { url, apiKey, apiSecret, token } = liveKitPart(lk, env, issues);

  // Exotel
  const sipHost = nonEmpty(ex.sipHost ?? env.EXOTEL_SIP_HOST) ?? EXOTEL_DEFAULTS.sipHost;
  if (!HOST_RE.test(sipHost) && isIP(sipHost) === 0)
    issues.push(`EXOTEL_SIP_HOST must be a host name or IP (got ${JSON.stringify(sipHost)})`);
  const transportRaw = (
    ex.transport ??
    nonEmpty(env.EXOTEL_SIP_TRANSPORT) ??
    EXOTEL_DEFAULTS.transport
  ).toLowerCase();
  if (transportRaw !== 'tcp' && transportRaw !== 'udp' && transportRaw !== 'tls') {
    issues.push(`EXOTEL_SIP_TRANSPORT must be tcp, udp or tls (got ${JSON.stringify(transportRaw)})`);
  }
  const sipPort = port(
    'EXOTEL_SIP_PORT',
    ex.sipPort,
    env.EXOTEL_SIP_PORT,
    transportRaw === 'tls' ? EXOTEL_DEFAULTS.tlsSipPort : EXOTEL_DEFAULTS.sipPort,
  );
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
  if (callerId === undefined) {
    if (callerRequired) issues.push('EXOTEL_CALLER_ID (exotel.callerId, your Exophone) is missing');
  } else if (!/^\+?\d{3,15}$/.test(callerId.replace(/[\s-]/g, ''))) {
    issues.push(`EXOTEL_CALLER_ID must be a phone number of 3–15 digits (got ${JSON.stringify(callerId)})`);
  }
  const fromDomain = nonEmpty(ex.fromDomain ?? env.EXOTEL_FROM_DOMAIN);
  if (fromDomain === undefined) {
    if (callerRequired)
      issues.push('EXOTEL_FROM_DOMAIN (exotel.fromDomain, e.g. <account>.sip.exotel.com) is missing');
  } else if (!HOST_RE.test(fromDomain) && isIP(fromDomain) === 0)
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

  const tls = resolveTls(ex.tls, env, issues);
  const millis = (
    name: string,
    explicit: number | undefined,
    raw: string | undefined,
  ): number | undefined => {
    const v = explicit ?? (nonEmpty(raw) !== undefined ? Number(raw) : undefined);
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
      issues.push(`${name} must be a number of milliseconds >= 0 (got ${JSON.stringify(explicit ?? raw)})`);
    }
    return v;
  };
  const keepaliveIntervalMs = millis(
    'EXOTEL_SIP_KEEPALIVE_MS',
    ex.keepaliveIntervalMs,
    env.EXOTEL_SIP_KEEPALIVE_MS,
  );
  const optionsIntervalMs = millis(
    'EXOTEL_SIP_OPTIONS_INTERVAL_MS',
    ex.optionsIntervalMs,
    env.EXOTEL_SIP_OPTIONS_INTERVAL_MS,
  );

  const codecs = resolveCodecs(ex.codecs, env.EXOTEL_CODECS, issues);

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
      callerId: (callerId ?? '').replace(/[\s-]/g, ''),
      fromDomain: fromDomain ?? '',
      accountSid,
      auth,
      ...(tls !== undefined ? { tls } : {}),
      ...(keepaliveIntervalMs !== undefined ? { keepaliveIntervalMs } : {}),
      ...(optionsIntervalMs !== undefined ? { optionsIntervalMs } : {}),
      ...(codecs !== undefined ? { codecs } : {}),
    },
  };
}

/** Codec preference: explicit, else `EXOTEL_CODECS` (comma-separated); PCMA/PCMU only, no repeats. */
function resolveCodecs(
  explicit: readonly string[] | undefined,
  raw: string | undefined,
  issues: string[],
): ('PCMA' | 'PCMU')[] | undefined {
  const list =
    explicit ??
    nonEmpty(raw)
      ?.split(',')
      .map((c) => c.trim().toUpperCase()) ??
    undefined;
  if (list === undefined) return undefined;
  const ok =
    list.length > 0 && list.every((c) => c === 'PCMA' || c === 'PCMU') && new Set(list).size === list.length;
  if (!ok) {
    issues.push(
      `EXOTEL_CODECS (exotel.codecs) must list PCMA and/or PCMU once each (got ${JSON.stringify(explicit ?? raw)})`,
    );
    return undefined;
  }
  return list as ('PCMA' | 'PCMU')[];
}

/** TLS settings: explicit ones win; `EXOTEL_TLS_*_FILE` name PEM files to read. */
function resolveTls(
  explicit: ExotelTlsSettings | undefined,
  env: Env,
  issues: string[],
): ExotelTlsSettings | undefined {
  const out: ExotelTlsSettings = { ...explicit };
  const file = (
    name: 'EXOTEL_TLS_CA_FILE' | 'EXOTEL_TLS_CERT_FILE' | 'EXOTEL_TLS_KEY_FILE',
  ): Buffer | undefined => {
    const path = nonEmpty(env[name]);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      issues.push(`${name}: cannot read ${JSON.stringify(path)} (${(err as Error).message})`);
      return undefined;
    }
  };
  if (out.ca === undefined) {
    const ca = file('EXOTEL_TLS_CA_FILE');
    if (ca !== undefined) out.ca = ca;
  }
  if (out.cert === undefined) {
    const cert = file('EXOTEL_TLS_CERT_FILE');
    if (cert !== undefined) out.cert = cert;
  }
  if (out.key === undefined) {
    const key = file('EXOTEL_TLS_KEY_FILE');
    if (key !== undefined) out.key = key;
  }
  const servername = nonEmpty(env.EXOTEL_TLS_SERVERNAME);
  if (out.servername === undefined && servername !== undefined) out.servername = servername;
  if ((out.cert === undefined) !== (out.key === undefined)) {
    issues.push(
      'a TLS client certificate needs its key (EXOTEL_TLS_CERT_FILE and EXOTEL_TLS_KEY_FILE together)',
    );
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function liveKitPart(
  lk: Partial<LiveKitSettings>,
  env: Env,
  issues: string[],
): { url: string | undefined; apiKey?: string; apiSecret?: string; token?: string } {
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
  return { url, apiKey, apiSecret, token };
}

/** The LiveKit settings alone (options, then `LIVEKIT_*`), validated: for host helpers that need no trunk. */
export function resolveLiveKitSettings(
  input: Partial<LiveKitSettings> = {},
  env: Env = process.env,
): LiveKitSettings {
  const issues: string[] = [];
  const { url, apiKey, apiSecret, token } = liveKitPart(input, env, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return { url: url!, apiKey, apiSecret, token };
}

/** Reads and validates the whole configuration from the environment alone. */
export function loadConfigFromEnv(env: Env = process.env): BridgeConfig {
  return resolveConfig({}, env);
}
