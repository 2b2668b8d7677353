/**
 * An inbound call server: people dial your Exophone and an agent answers in a LiveKit room.
 * Each call gets one room (`<agentType>-inbound-<last 4 digits>-<uuid>`) and one dispatch of
 * AGENT_NAME; the room is deleted when the call ends.
 *
 * What it assumes on Exotel's side:
 *   - a vSIP trunk on your Exotel account whose destination is this host's public IP and SIP
 *     port (EXOTEL_CUSTOMER_IP, EXOTEL_CUSTOMER_SIP_PORT, default 5061; TCP by default);
 *   - an Exotel call flow on the Exophone that routes incoming calls to that SIP trunk;
 *   - the firewall lets Exotel's signalling addresses reach the SIP port and Exotel's media
 *     addresses reach the RTP range (EXOTEL_RTP_PORT_RANGE, UDP).
 * INVITEs are accepted from the addresses EXOTEL_SIP_HOST resolves to and from
 * EXOTEL_ALLOW_FROM (comma-separated: Exotel's other signalling addresses for your region, or
 * the SIP proxy in front of this process, see docs/deploy.md); anyone else gets 403.
 *
 *   LIVEKIT_URL=… LIVEKIT_API_KEY=… LIVEKIT_API_SECRET=… \
 *   EXOTEL_CUSTOMER_IP=<public IP> EXOTEL_ALLOW_FROM=<Exotel signalling IPs> \
 *   AGENT_NAME=support-agent npx tsx examples/inbound.ts
 *
 * SIGTERM or SIGINT drains: new calls get 503 with Retry-After (a proxy in front retries
 * another process), calls in progress finish (up to 5 minutes), then the process exits.
 * A second signal exits at once.
 */
import { dispose } from '@livekit/rtc-node';
import {
  BridgeError,
  acceptInboundCalls,
  listenForCalls,
  type LogFn,
  type Logger,
} from 'exotel-livekit-bridge';

const line =
  (level: string): LogFn =>
  (a: string | Record<string, unknown>, b?: string) =>
    console.log(
      `${new Date().toISOString()} ${level} ${typeof a === 'string' ? a : `${b ?? ''} ${JSON.stringify(a)}`}`,
    );
const logger: Logger = {
  debug: () => {},
  info: line('INFO'),
  warn: line('WARN'),
  error: line('ERROR'),
  child: () => logger,
};

async function main(): Promise<void> {
  const listener = await listenForCalls({
    onCall: acceptInboundCalls({
      agentName: process.env.AGENT_NAME ?? 'support-agent',
      agentType: 'support',
    }),
    allowFrom: (process.env.EXOTEL_ALLOW_FROM ?? '').split(',').filter(Boolean),
    logger,
  });
  console.log(`taking calls on SIP port ${listener.port}`);

  listener.on('call', (call) => {
    console.log(`call from ${call.phoneNumber} in room ${call.roomName}`);
    void call.ended.then((ended) =>
      console.log(`call from ${call.phoneNumber} ended: ${ended.reason}, talked ${ended.talkMs} ms`),
    );
  });
  listener.on('refused', ({ from, status, why }) =>
    console.log(`call from ${from} refused ${status}: ${why}`),
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1); // a second signal: don't wait
    stopping = true;
    console.log(`${signal}: draining ${listener.activeCalls} call(s)`);
    void listener
      .close({ drain: true })
      .then(() => dispose())
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch(async (err: unknown) => {
  console.error(err instanceof BridgeError ? `${err.code}: ${err.message}` : err);
  await dispose();
  process.exit(1);
});
