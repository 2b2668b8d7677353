/**
 * One outbound call from the environment: creates the room and the agent dispatch, then
 * bridges the phone into that room until either side hangs up.
 *
 *   LIVEKIT_URL=… LIVEKIT_API_KEY=… LIVEKIT_API_SECRET=… \
 *   EXOTEL_CUSTOMER_IP=… EXOTEL_CALLER_ID=… EXOTEL_FROM_DOMAIN=… \
 *   npx tsx examples/outbound.ts +919876543210 [agentType] [agentName]
 */
import { dispose } from '@livekit/rtc-node';
import { BridgeError, placeOutboundCall, type Logger, type LogFn } from 'exotel-livekit-bridge';

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

async function main(): Promise<number> {
  const [phoneNumber, agentType = 'support', agentName = 'support-agent'] = process.argv.slice(2);
  if (!phoneNumber) {
    console.error('usage: tsx examples/outbound.ts <phone number> [agentType] [agentName]');
    return 2;
  }
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  const { roomName, call } = await placeOutboundCall({
    phoneNumber,
    agentType,
    agentName,
    logger,
    signal: ac.signal,
  });
  console.log(`room ${roomName}: calling ${call.phoneNumber}`);
  call.on('status', (s) => console.log(`sip.callStatus = ${s}`));
  const ended = await call.ended;
  console.log(
    `ended: ${ended.reason}${ended.sipStatus ? ` (${ended.sipStatus})` : ''}, talked ${ended.talkMs} ms`,
  );
  console.log(JSON.stringify(call.stats(), null, 2));
  return ended.reason === 'phone-hangup' || ended.reason === 'agent-hangup' || ended.reason === 'host-hangup'
    ? 0
    : 1;
}

main()
  .catch((err: unknown) => {
    console.error(err instanceof BridgeError ? `${err.code}: ${err.message}` : err);
    return 1;
  })
  .then(async (code) => {
    await dispose();
    process.exit(code);
  });
