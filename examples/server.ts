/**
 * A host HTTP server like the seed's FastAPI backend: `POST /api/makeCall` with
 * `{"phone_number": "+919876543210", "agent_type": "support"}` creates one room and one
 * agent dispatch, bridges the phone into it, and answers at once with the room name.
 *
 *   PORT=8080 AGENT_NAME=support-agent npx tsx examples/server.ts
 *
 * With INBOUND=1 it also takes calls to the Exophone (see examples/inbound.ts for the
 * Exotel-side setup): one room and one dispatch per call, listed by `GET /api/calls` too.
 *
 * SIGTERM (or SIGINT) drains for a rolling restart: `POST /api/makeCall` answers 503, new
 * inbound calls get SIP 503 with Retry-After, calls in progress may finish for up to
 * DRAIN_TIMEOUT_MS (default 5 minutes), then the rest are hung up and the process exits.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dispose } from '@livekit/rtc-node';
import {
  BridgeError,
  acceptInboundCalls,
  listenForCalls,
  placeOutboundCall,
  type BridgeCall,
} from 'exotel-livekit-bridge';

const calls = new Map<string, BridgeCall>();
const MAX_BODY = 4096;
const DRAIN_TIMEOUT_MS = Number(process.env.DRAIN_TIMEOUT_MS ?? 300_000);
let draining = false;
let placing = 0; // makeCall requests still creating their room

function track(call: BridgeCall): void {
  calls.set(call.roomName, call);
  void call.ended.then(() => calls.delete(call.roomName));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > MAX_BODY) throw new Error('body too large');
  }
  const v = JSON.parse(body) as unknown;
  if (typeof v !== 'object' || v === null) throw new Error('expected a JSON object');
  return v as Record<string, unknown>;
}

const server = createServer((req, res) => {
  void (async () => {
    if (req.method === 'POST' && req.url === '/api/makeCall') {
      if (draining) {
        res.setHeader('retry-after', '30');
        return send(res, 503, { error: 'draining: try another instance' });
      }
      let input: Record<string, unknown>;
      try {
        input = await readJson(req);
      } catch (err) {
        return send(res, 400, { error: String(err) });
      }
      placing++;
      try {
        const { roomName, dispatchId, call } = await placeOutboundCall({
          phoneNumber: String(input.phone_number ?? ''),
          agentType: String(input.agent_type ?? 'support'),
          agentName: process.env.AGENT_NAME ?? 'support-agent',
        });
        track(call);
        return send(res, 200, {
          message: 'SIP Bridge Initiated',
          data: {
            room: roomName,
            dispatch: dispatchId,
            call_to_phone_number: call.phoneNumber,
            method: 'custom_bridge',
          },
        });
      } catch (err) {
        if (err instanceof BridgeError) return send(res, 400, { error: err.code, message: err.message });
        return send(res, 500, { error: 'internal error' });
      } finally {
        placing--;
      }
    }
    if (req.method === 'POST' && req.url?.startsWith('/api/hangup/')) {
      const call = calls.get(decodeURIComponent(req.url.slice('/api/hangup/'.length)));
      if (!call) return send(res, 404, { error: 'no such call' });
      const ended = await call.hangup();
      return send(res, 200, { ended });
    }
    if (req.method === 'GET' && req.url === '/api/calls') {
      return send(
        res,
        200,
        [...calls].map(([room, c]) => ({ room, status: c.status, stats: c.stats() })),
      );
    }
    send(res, 404, { error: 'not found' });
  })();
});

const port = Number(process.env.PORT ?? 8080);
server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));

const listener =
  process.env.INBOUND === '1'
    ? await listenForCalls({
        onCall: acceptInboundCalls({
          agentName: process.env.AGENT_NAME ?? 'support-agent',
          agentType: 'support',
        }),
        allowFrom: (process.env.EXOTEL_ALLOW_FROM ?? '').split(',').filter(Boolean),
      })
    : undefined;
listener?.on('call', track);
if (listener) console.log(`taking inbound calls on SIP port ${listener.port}`);

async function shutdown(signal: string): Promise<void> {
  if (draining) process.exit(1); // a second signal: don't wait
  draining = true;
  console.log(`${signal}: draining ${calls.size} call(s), up to ${DRAIN_TIMEOUT_MS} ms`);
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  // The listener refuses new INVITEs (503 + Retry-After) from now on and waits for its own calls.
  const inbound = listener?.close({ drain: true, drainTimeoutMs: DRAIN_TIMEOUT_MS });
  while ((calls.size > 0 || placing > 0) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 500));
  await Promise.all([...calls.values()].map((c) => c.hangup())); // whatever outlived the drain
  await inbound;
  server.close();
  server.closeAllConnections();
  await dispose();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
