/**
 * Exotel's "connect Voice AI" call API (AgentStream): one HTTP request that makes Exotel
 * dial a number and, once answered, stream the call to a WebSocket bot URL.
 *
 * `POST {baseUrl}/v1/accounts/{accountSid}/calls/connect`, HTTP Basic auth (API key as
 * username, API token as password), form-encoded parameters, a JSON answer.
 *
 * Everything is checked before anything is sent ({@link connectStreamCall} throws one
 * `ConfigError` listing every problem). No parameter may carry a control character, so no
 * value can inject into the request even though URLSearchParams would encode it anyway.
 * The API key and token never appear in an error message, a log record or a `cause` built
 * here; Exotel's own error text is scrubbed of them before it is quoted.
 */
import { systemTimerClock, type TimerClock, type TimerHandle } from '../clock.js';
import { AbortedError, ConfigError, ExotelApiError, InvalidPhoneNumberError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { normalizePhoneNumber, validateCallerId } from '../sip/phone.js';

/** Exotel's API endpoints by region. */
export const EXOTEL_API_BASE_URLS = {
  /** Accounts in Exotel's Mumbai (India) cluster: the default. */
  mumbai: 'https://api.in.exotel.com',
  /** Accounts in Exotel's Singapore cluster. */
  singapore: 'https://api.exotel.com',
} as const;

/** Account and credentials for Exotel's HTTP API. */
export interface ExotelApiSettings {
  /** The Exotel account SID (part of the API path). */
  accountSid: string;
  /** The API key (the Basic auth username). */
  apiKey: string;
  /** The API token (the Basic auth password). Never logged, never quoted in an error. */
  apiToken: string;
  /** Default `'https://api.in.exotel.com'` (Mumbai); see {@link EXOTEL_API_BASE_URLS}. */
  baseUrl?: string;
  /** How long to wait for the whole answer, body included (default 10000 ms). */
  timeoutMs?: number;
}

/** Which call events Exotel posts to `statusCallback`. */
export type ConnectStatusCallbackEvent = 'answered' | 'terminal' | 'ringing';

/** One outbound call to connect to a bidirectional AgentStream bot. */
export interface ConnectStreamRequest {
  /**
   * The number to dial (sent as Exotel's `from`). Normalized to E.164 with
   * `normalizePhoneNumber`: national numbers are read as Indian, so give `+…` otherwise.
   */
  to: string;
  /** Your Exophone (sent as `callerid`), kept as written apart from separators. */
  callerId: string;
  /** `ws://` or `wss://` URL of the bot, at most 600 characters. */
  streamUrl: string;
  /** Ask Exotel to record the call (sent only when `true`). */
  record?: boolean;
  /** With `record`: both parties in one channel (`single`) or each in its own (`dual`). */
  recordingChannels?: 'single' | 'dual';
  /** Longest call in seconds, an integer from 1 to 14400. */
  timeLimitSec?: number;
  /** Echoed back by Exotel in the stream's `start` and callbacks; at most 128 characters. */
  customField?: string;
  /** `http(s)://` URL Exotel posts call status to. */
  statusCallback?: string;
  /** Which events Exotel posts to `statusCallback` (needs `statusCallback`). */
  statusCallbackEvents?: readonly ConnectStatusCallbackEvent[];
  /** At most 32 characters. */
  streamName?: string;
}

/** Options of {@link connectStreamCall}. */
export interface ConnectStreamOptions {
  /** Cancels the request (rejects with `AbortedError`). */
  signal?: AbortSignal;
  /** Arms the timeout (default `systemTimerClock`). */
  clock?: TimerClock;
  /** Where failures are logged, credentials scrubbed (default silent). */
  logger?: Logger;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** What Exotel answered: the new call's sid and, when it said, its status. */
export interface ConnectStreamResult {
  /** The new call's SID: the stream's `start` carries it, and it is the bridge's `sip.callID`. */
  callSid: string;
  /** The call's status as Exotel reported it (e.g. `in-progress`), when it did. */
  status: string | undefined;
}

const DEFAULT_BASE_URL = EXOTEL_API_BASE_URLS.mumbai;
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_MS = 2_147_483_647; // the largest delay a Node timer honours
const MAX_STREAM_URL = 600;
const MAX_CUSTOM_FIELD = 128;
const MAX_STREAM_NAME = 32;
const MAX_STATUS_CALLBACK_URL = 2048;
const MAX_TIME_LIMIT_SEC = 14_400;
const MAX_CREDENTIAL = 256;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_QUOTED_MESSAGE = 200;
const ACCOUNT_SID = /^[A-Za-z0-9_-]{1,128}$/;
const CALLBACK_EVENTS: readonly string[] = ['answered', 'terminal', 'ringing'];

/** C0 controls (CR, LF, NUL, TAB...), DEL and C1 controls. */
function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (isControl(s.charCodeAt(i))) return true;
  return false;
}

function isControl(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/** Adds an issue unless `v` is a non-empty string without control characters. */
function checkString(issues: string[], name: string, v: unknown, max: number): v is string {
  if (typeof v !== 'string' || v.length === 0) {
    issues.push(`${name} must be a non-empty string`);
    return false;
  }
  const before = issues.length;
  if (v.length > max) issues.push(`${name} is longer than ${max} characters (${v.length})`);
  if (hasControlChar(v)) issues.push(`${name} contains a control character`);
  return issues.length === before;
}

/** Parses `v` as a URL with one of `protocols`; adds an issue otherwise. */
function checkUrl(
  issues: string[],
  name: string,
  v: unknown,
  max: number,
  protocols: readonly string[],
): URL | undefined {
  if (!checkString(issues, name, v, max)) return undefined;
  if (/\s/.test(v)) {
    issues.push(`${name} contains whitespace`);
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    issues.push(`${name} is not a valid URL`);
    return undefined;
  }
  if (!protocols.includes(url.protocol) || url.hostname === '') {
    const want = protocols.map((p) => `${p}//`).join(' or ');
    issues.push(`${name} must be an absolute ${want} URL, got ${JSON.stringify(url.protocol)}`);
    return undefined;
  }
  return url;
}

/** `wss://***@host/path?***`: a URL fit for a log line (no credentials, no query). */
function redactUrl(url: URL): string {
  const auth = url.username !== '' || url.password !== '' ? '***@' : '';
  const query = url.search !== '' ? '?***' : '';
  return `${url.protocol}//${auth}${url.host}${url.pathname}${query}`;
}

interface Prepared {
  endpoint: string;
  authorization: string;
  body: URLSearchParams;
  timeoutMs: number;
  to: string;
  logStreamUrl: string;
}

function checkNumber(issues: string[], name: string, v: unknown, check: (s: string) => string): string {
  try {
    return check(v as string);
  } catch (err) {
    if (!(err instanceof InvalidPhoneNumberError)) throw err;
    issues.push(`${name}: ${err.message}`);
    return '';
  }
}

function prepareApi(
  issues: string[],
  api: ExotelApiSettings,
): Omit<Prepared, 'body' | 'to' | 'logStreamUrl'> {
  const ok = { endpoint: '', authorization: '', timeoutMs: DEFAULT_TIMEOUT_MS };
  if (typeof api !== 'object' || api === null) {
    issues.push('api settings must be an object');
    return ok;
  }
  if (typeof api.accountSid !== 'string' || !ACCOUNT_SID.test(api.accountSid)) {
    issues.push('api.accountSid must be 1 to 128 letters, digits, "_" or "-"');
  }
  // Credentials are never quoted, whatever is wrong with them.
  if (checkString(issues, 'api.apiKey', api.apiKey, MAX_CREDENTIAL) && api.apiKey.includes(':')) {
    issues.push('api.apiKey must not contain ":"');
  }
  checkString(issues, 'api.apiToken', api.apiToken, MAX_CREDENTIAL);
  const base = checkUrl(issues, 'api.baseUrl', api.baseUrl ?? DEFAULT_BASE_URL, 2048, ['https:', 'http:']);
  if (base !== undefined) {
    if (base.username !== '' || base.password !== '') issues.push('api.baseUrl must not contain credentials');
    if (base.search !== '' || base.hash !== '') issues.push('api.baseUrl must not have a query or fragment');
    const path = base.pathname.replace(/\/+$/, '');
    ok.endpoint = `${base.origin}${path}/v1/accounts/${encodeURIComponent(api.accountSid)}/calls/connect`;
  }
  if (api.timeoutMs !== undefined) {
    const t = api.timeoutMs;
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0 || t > MAX_TIMEOUT_MS) {
      issues.push(`api.timeoutMs must be a number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`);
    } else ok.timeoutMs = t;
  }
  if (issues.length === 0) {
    const basic = Buffer.from(`${api.apiKey}:${api.apiToken}`, 'utf8').toString('base64');
    ok.authorization = `Basic ${basic}`;
  }
  return ok;
}

/** Checks everything; throws one `ConfigError` listing every problem. */
function prepare(api: ExotelApiSettings, req: ConnectStreamRequest): Prepared {
  const issues: string[] = [];
  const p = prepareApi(issues, api);
  if (typeof req !== 'object' || req === null)
    throw new ConfigError([...issues, 'request must be an object']);
  const body = new URLSearchParams();
  const to = checkNumber(issues, 'to', req.to, (s) => normalizePhoneNumber(s));
  const callerId = checkNumber(issues, 'callerId', req.callerId, validateCallerId);
  const stream = checkUrl(issues, 'streamUrl', req.streamUrl, MAX_STREAM_URL, ['wss:', 'ws:']);
  body.set('from', to);
  body.set('callerid', callerId);
  body.set('streamurl', req.streamUrl);
  body.set('streamtype', 'bidirectional');
  if (req.record !== undefined) {
    if (typeof req.record !== 'boolean') issues.push('record must be a boolean');
    else if (req.record) body.set('record', 'true');
  }
  if (req.recordingChannels !== undefined) {
    if (req.recordingChannels !== 'single' && req.recordingChannels !== 'dual') {
      issues.push('recordingChannels must be "single" or "dual"');
    } else body.set('recordingchannels', req.recordingChannels);
  }
  if (req.timeLimitSec !== undefined) {
    const t = req.timeLimitSec;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_TIME_LIMIT_SEC) {
      issues.push(`timeLimitSec must be an integer from 1 to ${MAX_TIME_LIMIT_SEC}`);
    } else body.set('timelimit', String(t));
  }
  if (
    req.customField !== undefined &&
    checkString(issues, 'customField', req.customField, MAX_CUSTOM_FIELD)
  ) {
    body.set('customfield', req.customField);
  }
  if (req.streamName !== undefined && checkString(issues, 'streamName', req.streamName, MAX_STREAM_NAME)) {
    body.set('streamname', req.streamName);
  }
  if (req.statusCallback !== undefined) {
    const protocols = ['https:', 'http:'];
    if (checkUrl(issues, 'statusCallback', req.statusCallback, MAX_STATUS_CALLBACK_URL, protocols)) {
      body.set('statuscallback', req.statusCallback);
    }
  }
  if (req.statusCallbackEvents !== undefined) {
    const events: unknown = req.statusCallbackEvents;
    if (!Array.isArray(events) || events.some((e) => !CALLBACK_EVENTS.includes(e as string))) {
      issues.push(
        `statusCallbackEvents must be a list of ${CALLBACK_EVENTS.map((e) => `"${e}"`).join(', ')}`,
      );
    } else {
      if (events.length > 0 && req.statusCallback === undefined) {
        issues.push('statusCallbackEvents needs statusCallback');
      }
      for (const e of new Set(events as string[])) body.append('statuscallbackevents[]', e);
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { ...p, body, to, logStreamUrl: stream === undefined ? '' : redactUrl(stream) };
}

/** Reads at most `limit` bytes of the body; cancels the rest. */
async function readBody(res: Response, limit: number, logger: Logger): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.byteLength >= limit - total) {
        chunks.push(value.subarray(0, limit - total));
        total = limit;
        reader.cancel().catch((err: unknown) => {
          logger.debug(
            { err: String(err) },
            '[BRIDGE] Exotel connect API: dropping the rest of the answer failed',
          );
        });
        break;
      }
      chunks.push(value);
      total += value.byteLength;
    }
  } finally {
    reader.releaseLock();
  }
  return new TextDecoder().decode(Buffer.concat(chunks, total));
}

function field(obj: unknown, ...path: string[]): unknown {
  let v = obj;
  for (const k of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined; // not JSON: the callers fall back to the text
  }
}

/** A string fit to log and to keep: printable, no whitespace, 1 to 128 characters. */
function usableId(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  return typeof v === 'string' && /^[\u0021-\u007e]{1,128}$/.test(v) ? v : undefined;
}

/** The call sid and status from Exotel's answer, whichever of the known shapes it has. */
function parseConnectAnswer(json: unknown): { callSid: string | undefined; status: string | undefined } {
  const sids = [field(json, 'Call', 'Sid'), field(json, 'call', 'sid'), field(json, 'call_sid')];
  sids.push(field(json, 'sid'), field(json, 'CallSid'));
  const callSid = sids.map(usableId).find((s) => s !== undefined);
  const statuses = [field(json, 'Call', 'Status'), field(json, 'call', 'status'), field(json, 'status')];
  const status = statuses
    .map((s) => (typeof s === 'string' && /^[\u0020-\u007e]{1,64}$/.test(s) ? s.trim() : undefined))
    .find((s) => s !== undefined && s !== '');
  return { callSid, status };
}

/** Exotel's error text from a JSON or text/HTML body, one line, with the secrets removed. */
function errorMessage(text: string, secrets: readonly string[]): string {
  const json = parseJson(text);
  const candidates = [
    field(json, 'RestException', 'Message'),
    field(json, 'message'),
    field(json, 'Message'),
  ];
  candidates.push(field(json, 'error', 'message'), field(json, 'error'));
  let msg = candidates.find((c): c is string => typeof c === 'string' && c.trim() !== '');
  if (msg === undefined) {
    msg = text
      .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
      .replace(/<[^>]*>/g, ' ')
      .replace(/&nbsp;/g, ' ');
  }
  for (const s of secrets) if (s !== '') msg = msg.split(s).join('***');
  let line = '';
  for (const ch of msg) line += isControl(ch.charCodeAt(0)) ? ' ' : ch;
  msg = line.replace(/\s+/g, ' ').trim();
  return msg.length > MAX_QUOTED_MESSAGE ? `${msg.slice(0, MAX_QUOTED_MESSAGE - 1)}…` : msg;
}

/**
 * Asks Exotel to dial `req.to` from `req.callerId` and connect the answered call to the
 * bidirectional AgentStream bot at `req.streamUrl`.
 *
 * @throws ConfigError (before anything is sent) listing every invalid setting or parameter.
 * @throws AbortedError when `opts.signal` fires first.
 * @throws ExotelApiError with `status` 0 on a network failure or timeout, with the HTTP
 *   status when Exotel refuses the call, or when a 2xx answer carries no call sid.
 */
export async function connectStreamCall(
  api: ExotelApiSettings,
  req: ConnectStreamRequest,
  opts: ConnectStreamOptions = {},
): Promise<ConnectStreamResult> {
  const p = prepare(api, req);
  const clock = opts.clock ?? systemTimerClock;
  const logger = opts.logger ?? silentLogger;
  const doFetch = opts.fetch ?? fetch;
  const signal = opts.signal;
  if (signal?.aborted) throw new AbortedError('Exotel connect API call aborted', { cause: signal.reason });

  const secrets = [api.apiToken, api.apiKey, p.authorization.slice('Basic '.length)];
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = (): void => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let timer: TimerHandle | undefined = clock.setTimeout(
    () => {
      timer = undefined;
      timedOut = true;
      controller.abort();
    },
    p.timeoutMs,
    { unref: true },
  );
  let status = 0;
  let text: string;
  try {
    const res = await doFetch(p.endpoint, {
      method: 'POST',
      headers: {
        Authorization: p.authorization,
        'Content-Type': 'application/x-www-form-urlencoded',
        Accept: 'application/json',
      },
      body: p.body.toString(),
      signal: controller.signal,
      redirect: 'manual', // never replay the credentials to wherever a redirect points
    });
    status = res.status;
    text = await readBody(res, MAX_BODY_BYTES, logger);
  } catch (err) {
    if (timedOut) {
      throw fail(logger, new ExotelApiError(0, `Exotel connect API did not answer within ${p.timeoutMs} ms`));
    }
    if (signal?.aborted) throw new AbortedError('Exotel connect API call aborted', { cause: signal.reason });
    const what = status === 0 ? 'could not be reached' : `answer could not be read (HTTP ${status})`;
    throw fail(logger, new ExotelApiError(0, `Exotel connect API ${what}`, { cause: err }));
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }

  if (status < 200 || status > 299) {
    const msg = errorMessage(text, secrets);
    const quoted = msg === '' ? '' : ` ${msg}`;
    throw fail(logger, new ExotelApiError(status, `Exotel connect API refused the call: ${status}${quoted}`));
  }
  const answer = parseConnectAnswer(parseJson(text));
  if (answer.callSid === undefined)
    throw fail(logger, new ExotelApiError(status, 'no call sid in the answer'));
  logger.info(
    { callSid: answer.callSid, status: answer.status, to: p.to, streamUrl: p.logStreamUrl },
    `[BRIDGE] Exotel connect API placed call ${answer.callSid}`,
  );
  return { callSid: answer.callSid, status: answer.status };
}

function fail(logger: Logger, err: ExotelApiError): ExotelApiError {
  logger.warn({ status: err.status }, '[BRIDGE] Exotel connect API failed');
  return err;
}
