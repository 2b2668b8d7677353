/**
 * An inbound call server: people dial your Exophone and an agent answers in a LiveKit room.
 * Each call gets one room (`<agentType>-inbound-<last 4 digits>-<uuid>`) and one dispatch of
 * the agent; the room is deleted when the call ends.
 *
 * What it assumes on Exotel's side:
 *   - a vSIP trunk on your Exotel account whose destination is this host's public IP and SIP
 *     port (EXOTEL_CUSTOMER_IP, EXOTEL_CUSTOMER_SIP_PORT, default 5061; TCP by default);
 *   - an Exotel call flow on the Exophone that routes incoming calls to that SIP trunk;
 *   - the firewall lets Exotel's signalling addresses reach the SIP port and Exotel's media
 *     addresses reach the RTP range (EXOTEL_RTP_PORT_RANGE, UDP).
 * INVITEs are accepted from the addresses EXOTEL_SIP_HOST resolves to and from `--allow-from`
 * (or EXOTEL_ALLOW_FROM; comma-separated: Exotel's other signalling addresses for your
 * region, or the SIP proxy in front of this process, see docs/deploy.md); anyone else gets 403.
 *
 *   LIVEKIT_URL=… LIVEKIT_API_KEY=… LIVEKIT_API_SECRET=… EXOTEL_CUSTOMER_IP=<public IP> \
 *   npx tsx examples/inbound.ts --agent-name support-agent --allow-from <Exotel signalling IPs>
 *
 * `--calls <n>` stops after n calls have ended (a smoke test). SIGTERM or SIGINT drains: new
 * calls get 503 with Retry-After (a proxy in front retries another process), calls in
 * progress finish (up to 5 minutes), then the process exits. A second signal exits at once.
 */
import { parseArgs } from 'node:util';
import {
  BridgeError,
  acceptInboundCalls,
  listenForCalls,
  shutdown,
  type LogFn,
  type Logger,
} from 'exotel-livekit-bridge';

const USAGE =
  'usage: npx tsx examples/inbound.ts [--agent-name <name>] [--agent-type <type>] [--allow-from <ip,…>] [--calls <n>]';

const line =
  (level: string): LogFn =>
  (a: string | Record<string, unknown>, b?: string) =>
    console.log(`${level} ${typeof a === 'string' ? a : `${b ?? ''} ${JSON.stringify(a)}`}`);
const logger: Logger = {
  debug: () => {},
  info: line('INFO'),
  warn: line('WARN'),
  error: line('ERROR'),
  child: () => logger,
};

function flags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'agent-name': { type: 'string', default: process.env.AGENT_NAME ?? 'support-agent' },
      'agent-type': { type: 'string', default: 'support' },
      'allow-from': { type: 'string', default: process.env.EXOTEL_ALLOW_FROM ?? '' },
      calls: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const calls = values.calls === undefined ? Infinity : Number(values.calls);
  if (!Number.isInteger(calls) && calls !== Infinity) throw new TypeError('--calls must be a whole number');
  if (calls < 1) throw new TypeError('--calls must be at least 1');
  return { ...values, calls };
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

  const listener = await listenForCalls({
    onCall: acceptInboundCalls({ agentName: opts['agent-name'], agentType: opts['agent-type'], logger }),
    allowFrom: opts['allow-from'].split(',').filter(Boolean),
    logger,
  });
  console.log(`taking calls on SIP port ${listener.port}`);

  let ended = 0;
  const done = new Promise<string>((resolve) => {
    listener.on('call', (call) => {
      console.log(`call from ${call.phoneNumber} in room ${call.roomName}`);
      void call.ended.then((e) => {
        console.log(`call from ${call.phoneNumber} ended: ${e.reason}, talked ${e.talkMs} ms`);
        if (++ended >= opts.calls) resolve(`${ended} call(s) taken`);
      });
    });
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) process.exit(1); // a second signal: don't wait
      stopping = true;
      resolve(signal);
    };
    process.on('SIGTERM', stop).on('SIGINT', stop);
  });
  listener.on('refused', ({ from, status, why }) =>
    console.log(`call from ${from} refused ${status}: ${why}`),
  );

  const why = await done;
  console.log(`${why}: draining ${listener.activeCalls} call(s)`);
  await listener.close({ drain: true });
  console.log('stopped');
  return 0;
}

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof BridgeError ? `${err.code}: ${err.message}` : err);
  return 1;
});
await shutdown();
