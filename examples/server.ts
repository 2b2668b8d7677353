/**
 * A host HTTP server like the seed's FastAPI backend: `POST /api/makeCall` with
 * `{"phone_number": "+919876543210", "agent_type": "support"}` creates one room and one
 * agent dispatch, bridges the phone into it, and answers at once with the room name.
 *
 *   PORT=8080 AGENT_NAME=support-agent npx tsx examples/server.ts
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dispose } from '@livekit/rtc-node';
import { BridgeError, placeOutboundCall, type BridgeCall } from 'exotel-livekit-bridge';

const calls = new Map<string, BridgeCall>();
const MAX_BODY = 4096;

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
      let input: Record<string, unknown>;
      try {
        input = await readJson(req);
      } catch (err) {
        return send(res, 400, { error: String(err) });
      }
      try {
        const { roomName, dispatchId, call } = await placeOutboundCall({
          phoneNumber: String(input.phone_number ?? ''),
          agentType: String(input.agent_type ?? 'support'),
          agentName: process.env.AGENT_NAME ?? 'support-agent',
        });
        calls.set(roomName, call);
        void call.ended.then(() => calls.delete(roomName));
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
process.once('SIGINT', () => {
  server.close();
  void Promise.all([...calls.values()].map((c) => c.hangup())).then(() => dispose());
});
