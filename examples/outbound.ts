/**
 * One outbound call: creates the room and the agent dispatch, bridges the phone into that
 * room until either side hangs up, prints what happened, and exits.
 *
 *   LIVEKIT_URL=… LIVEKIT_API_KEY=… LIVEKIT_API_SECRET=… \
 *   EXOTEL_CUSTOMER_IP=… EXOTEL_CALLER_ID=… EXOTEL_FROM_DOMAIN=… \
 *   npx tsx examples/outbound.ts --phone +919876543210 [--agent-type support] [--agent-name support-agent]
 *
 * The trunk settings are the `EXOTEL_*` variables (see docs or `ENV_VARS`). Ctrl-C hangs up.
 * Exit code: 0 when the call was answered and ended normally, 1 when it failed, 2 for bad flags.
 */
import { parseArgs } from 'node:util';
import {
  BridgeError,
  placeOutboundCall,
  shutdown,
  type BridgeEndReason,
  type LogFn,
  type Logger,
} from 'exotel-livekit-bridge';

const USAGE =
  'usage: npx tsx examples/outbound.ts --phone <number> [--agent-type <type>] [--agent-name <name>] [--max-duration <seconds>]';

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

/** Ends that are a normal conversation (or the user's Ctrl-C). */
const NORMAL: readonly BridgeEndReason[] = [
  'phone-hangup',
  'agent-hangup',
  'host-hangup',
  'aborted',
  'max-duration',
];

function flags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      phone: { type: 'string', short: 'p' },
      'agent-type': { type: 'string', default: 'support' },
      'agent-name': { type: 'string', default: process.env.AGENT_NAME ?? 'support-agent' },
      'max-duration': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const maxSeconds = values['max-duration'] === undefined ? undefined : Number(values['max-duration']);
  if (maxSeconds !== undefined && !(maxSeconds > 0)) throw new TypeError('--max-duration must be positive');
  if (!values.help && values.phone === undefined) throw new TypeError('--phone is missing');
  return { ...values, phone: values.phone ?? '', maxSeconds };
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

  const ac = new AbortController();
  const hangUp = (): void => ac.abort();
  process.once('SIGINT', hangUp).once('SIGTERM', hangUp);
  try {
    const { roomName, call } = await placeOutboundCall({
      phoneNumber: opts.phone,
      agentType: opts['agent-type'],
      agentName: opts['agent-name'],
      logger,
      signal: ac.signal,
      ...(opts.maxSeconds !== undefined ? { timeouts: { maxDurationMs: opts.maxSeconds * 1000 } } : {}),
    });
    console.log(`room ${roomName}: calling ${call.phoneNumber}`);
    call.on('status', (s) => console.log(`sip.callStatus = ${s}`));
    call.on('answered', (a) => console.log(`answered: ${a.codec} from ${a.remoteAddress}:${a.remotePort}`));
    const ended = await call.ended;
    console.log(
      `ended: ${ended.reason}${ended.sipStatus ? ` (${ended.sipStatus})` : ''}, talked ${ended.talkMs} ms`,
    );
    const { rtp, livekit } = call.stats();
    if (rtp !== undefined && livekit !== undefined) {
      const loss = (rtp.lossFraction * 100).toFixed(1);
      console.log(
        `phone → room: ${rtp.packetsReceived} RTP packets (${loss} % lost), ${livekit.framesCaptured} frames`,
      );
      console.log(`room → phone: ${rtp.packetsSent} RTP packets`);
    }
    return ended.talkMs > 0 && NORMAL.includes(ended.reason) ? 0 : 1;
  } finally {
    process.off('SIGINT', hangUp).off('SIGTERM', hangUp);
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof BridgeError ? `${err.code}: ${err.message}` : err);
  return 1;
});
await shutdown();
