/**
 * A host HTTP backend like the seed's FastAPI one:
 *
 *   POST /api/makeCall   {"phone_number": "+919876543210", "agent_type": "support"}
 *                        creates one room and one agent dispatch, bridges the phone into it
 *                        and answers at once with the room name;
 *   GET  /api/calls      the calls in progress;
 *   POST /api/hangup/<room>  hangs that call up.
 *
 * Errors are JSON `{ "error": … }`: 400 malformed URL or body that is not JSON, 404 unknown
 * path or call, 405 wrong method, 413 body over 4 KiB, 422 a missing or invalid phone number
 * or agent type, 502 LiveKit failed, 503 draining.
 *
 *   LIVEKIT_URL=… LIVEKIT_API_KEY=… LIVEKIT_API_SECRET=… EXOTEL_CUSTOMER_IP=… \
 *   EXOTEL_CALLER_ID=… EXOTEL_FROM_DOMAIN=… npx tsx examples/server.ts --port 8080 --agent-name support-agent
 *
 * `--inbound` also takes calls to the Exophone (see examples/inbound.ts for the Exotel-side
 * setup): one room and one dispatch per call, listed by `GET /api/calls` too.
 *
 * SIGTERM (or SIGINT) drains for a rolling restart: `POST /api/makeCall` answers 503, new
 * inbound calls get SIP 503 with Retry-After, calls in progress may go on for up to
 * `--drain-timeout` ms (default 5 minutes), then the rest are hung up and the process exits.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import {
  BridgeError,
  ConfigError,
  InvalidPhoneNumberError,
  acceptInboundCalls,
  listenForCalls,
  placeOutboundCall,
  resolveConfig,
  shutdown,
  type BridgeCall,
} from 'exotel-livekit-bridge';

const USAGE =
  'usage: npx tsx examples/server.ts [--port <n>] [--host <ip>] [--agent-name <name>] [--inbound] [--allow-from <ip,…>] [--drain-timeout <ms>]';
const MAX_BODY = 4096;

/** A request the client got wrong: answered with `status` and `{ error }`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** The request body as a JSON object: 413 past MAX_BODY, 400 if not JSON, 422 if not an object. */
function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY)
    return Promise.reject(new HttpError(413, `body over ${MAX_BODY} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
      else reject(new HttpError(413, `body over ${MAX_BODY} bytes`)); // the rest is read and dropped
    });
    req.on('error', reject);
    req.on('end', () => {
      let v: unknown;
      try {
        v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reject(new HttpError(400, 'the body is not JSON'));
      }
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) resolve(v as Record<string, unknown>);
      else reject(new HttpError(422, 'the body must be a JSON object'));
    });
  });
}

/** The path's segments, percent-decoded (a malformed URL is a 400). */
function pathOf(req: IncomingMessage): string[] {
  try {
    return new URL(req.url ?? '/', 'http://localhost').pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    throw new HttpError(400, 'malformed URL');
  }
}

function flags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: 'string', default: process.env.PORT ?? '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'agent-name': { type: 'string', default: process.env.AGENT_NAME ?? 'support-agent' },
      inbound: { type: 'boolean', default: process.env.INBOUND === '1' },
      'allow-from': { type: 'string', default: process.env.EXOTEL_ALLOW_FROM ?? '' },
      'drain-timeout': { type: 'string', default: process.env.DRAIN_TIMEOUT_MS ?? '300000' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const port = Number(values.port);
  const drainMs = Number(values['drain-timeout']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError('--port must be 0–65535');
  if (!(drainMs >= 0)) throw new TypeError('--drain-timeout must be a number of ms');
  return { ...values, port, drainMs };
}

async function main(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof flags>;
  try {
    opts = flags(argv);
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  resolveConfig(); // a missing LIVEKIT_*/EXOTEL_* setting stops here, not at the first request
  const { port, drainMs, 'agent-name': agentName } = opts;

  const calls = new Map<string, BridgeCall>();
  const track = (call: BridgeCall): void => {
    calls.set(call.roomName, call);
    void call.ended.then(() => calls.delete(call.roomName));
  };
  const placing = new Set<Promise<unknown>>(); // makeCall requests still creating their room
  let draining = false;

  async function makeCall(req: IncomingMessage): Promise<[number, unknown]> {
    if (draining) throw new HttpError(503, 'draining: try another instance', { 'retry-after': '30' });
    const input = await readJson(req);
    const phone = input.phone_number;
    const agentType = input.agent_type ?? 'support';
    if (typeof phone !== 'string' || phone.trim() === '')
      throw new HttpError(422, 'phone_number is required (a string)');
    if (typeof agentType !== 'string') throw new HttpError(422, 'agent_type must be a string');
    try {
      const { roomName, dispatchId, call } = await placeOutboundCall({
        phoneNumber: phone,
        agentType,
        agentName,
      });
      track(call);
      console.log(`call to ${call.phoneNumber} in room ${roomName}`);
      const data = { room: roomName, dispatch: dispatchId, call_to_phone_number: call.phoneNumber };
      return [200, { message: 'SIP Bridge Initiated', data: { ...data, method: 'custom_bridge' } }];
    } catch (err) {
      // The configuration was checked at startup: a ConfigError here is about the request.
      if (err instanceof InvalidPhoneNumberError || err instanceof ConfigError)
        throw new HttpError(422, err.message);
      if (err instanceof BridgeError) throw new HttpError(502, `${err.code}: ${err.message}`);
      throw err;
    }
  }

  async function handle(req: IncomingMessage): Promise<[number, unknown]> {
    const path = pathOf(req);
    const allow = (method: string): void => {
      if (req.method !== method) throw new HttpError(405, `use ${method}`, { allow: method });
    };
    if (path.length === 2 && path[0] === 'api' && path[1] === 'makeCall') {
      allow('POST');
      const p = makeCall(req);
      placing.add(p);
      return p.finally(() => placing.delete(p));
    }
    if (path.length === 2 && path[0] === 'api' && path[1] === 'calls') {
      allow('GET');
      return [200, [...calls].map(([room, c]) => ({ room, status: c.status, stats: c.stats() }))];
    }
    if (path.length === 3 && path[0] === 'api' && path[1] === 'hangup') {
      allow('POST');
      const call = calls.get(path[2]!);
      if (!call) throw new HttpError(404, 'no such call');
      return [200, { ended: await call.hangup() }];
    }
    throw new HttpError(404, 'not found');
  }

  const server = createServer((req, res) => {
    handle(req).then(
      ([status, body]) => send(res, status, body),
      (err: unknown) => {
        if (err instanceof HttpError) {
          // 413: the client may still be sending; close the connection after the answer.
          const close: Record<string, string> = err.status === 413 ? { connection: 'close' } : {};
          return send(res, err.status, { error: err.message }, { ...err.headers, ...close });
        }
        console.error('request failed:', err);
        send(res, 500, { error: 'internal error' });
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(port, opts.host, resolve);
  });
  console.log(`listening on http://${opts.host}:${(server.address() as AddressInfo).port}`);

  const listener = opts.inbound
    ? await listenForCalls({
        onCall: acceptInboundCalls({ agentName, agentType: 'support' }),
        allowFrom: opts['allow-from'].split(',').filter(Boolean),
      })
    : undefined;
  listener?.on('call', track);
  if (listener) console.log(`taking inbound calls on SIP port ${listener.port}`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (s: NodeJS.Signals): void => {
      if (draining) process.exit(1); // a second signal: don't wait
      draining = true;
      resolve(s);
    };
    process.on('SIGTERM', stop).on('SIGINT', stop);
  });
  console.log(`${signal}: draining ${calls.size} call(s), up to ${drainMs} ms`);
  const deadline = Date.now() + drainMs;
  server.close(); // no new connections; requests in progress finish
  await Promise.allSettled(placing);
  // The listener refuses new INVITEs (503 + Retry-After) from now on and waits for its calls;
  // shutdown() waits for the outbound ones, hangs up what outlived the drain, and disposes rtc-node.
  await listener?.close({ drain: true, drainTimeoutMs: drainMs });
  await shutdown({ timeoutMs: Math.max(0, deadline - Date.now()) });
  server.closeAllConnections();
  console.log('stopped');
  return 0;
}

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof BridgeError ? `${err.code}: ${err.message}` : err);
  return 1;
});
await shutdown();
