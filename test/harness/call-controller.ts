/**
 * A second process that controls a call it did not place, through LiveKit only:
 *   node --import tsx test/harness/call-controller.ts <roomName> <action> [arg]
 * action: hold | resume | dtmf <digits> | transfer <target> | hangup | headers.
 * LiveKit settings from LIVEKIT_URL/LIVEKIT_API_KEY/LIVEKIT_API_SECRET. Prints one JSON
 * line with the result (or the error's code and status) and exits 0 (1 on failure).
 */
import { dispose } from '@livekit/rtc-node';
import { connectToCall, resourceCounts, toBridgeError } from '../../src/index.js';

async function main(): Promise<number> {
  const [roomName, action, arg] = process.argv.slice(2);
  if (roomName === undefined || action === undefined) throw new TypeError('usage: <roomName> <action> [arg]');
  const call = await connectToCall({ roomName });
  try {
    let result: unknown = null;
    if (action === 'hold') await call.hold();
    else if (action === 'resume') await call.resume();
    else if (action === 'dtmf') await call.sendDtmf(arg ?? '');
    else if (action === 'transfer') result = await call.transfer(arg ?? '');
    else if (action === 'hangup') await call.hangup();
    else if (action === 'headers') result = await call.headers();
    else throw new TypeError(`unknown action ${action}`);
    process.stdout.write(`${JSON.stringify({ ok: true, result, attributes: call.attributes() })}\n`);
    return 0;
  } catch (err) {
    const e = toBridgeError(err);
    process.stdout.write(
      `${JSON.stringify({ ok: false, code: e.code, status: (e as { status?: number }).status, message: e.message })}\n`,
    );
    return 1;
  } finally {
    await call.close();
    // what the library still holds once the handle is closed (the test expects nothing)
    process.stdout.write(`${JSON.stringify({ afterClose: resourceCounts() })}\n`);
    await dispose();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(2);
  },
);
