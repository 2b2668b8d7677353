/**
 * Native threads left behind by calls whose room the server deleted (livekit/rust-sdks#1443):
 * rtc-node keeps such a room's published track, and with a queued `AudioSource` the track
 * keeps that source's `AudioSourceCapture` thread for the life of the process. The phone
 * track's source is unqueued by default, so it has no such thread. Counted from outside
 * through `/proc/self/task` (Linux), against a baseline taken after one warm-up call.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { eventually, livekitEnv, roomService, uniqueRoom } from '../harness/livekit.js';
import { PhoneParticipant } from '../../src/livekit/participant.js';
import { createBridgeToken } from '../../src/livekit/token.js';

afterAll(async () => {
  await dispose();
});

/** Threads of this process by name (`#` for trailing digits). */
function threads(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8')
        .trim()
        .replace(/[0-9]+$/, '#');
      out.set(name, (out.get(name) ?? 0) + 1);
    } catch {
      // the thread ended
    }
  }
  return out;
}
const count = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const grown = (now: Map<string, number>, base: Map<string, number>) =>
  [...now].filter(([k, v]) => v > (base.get(k) ?? 0)).map(([k, v]) => `${k} +${v - (base.get(k) ?? 0)}`);

async function phone(roomName: string, i: number, queueSizeMs?: number): Promise<PhoneParticipant> {
  const lk = livekitEnv();
  const token = await createBridgeToken({
    apiKey: lk.apiKey,
    apiSecret: lk.apiSecret,
    roomName,
    identity: `sip-phone-+9198765432${10 + i}`,
  });
  const p = new PhoneParticipant({
    url: lk.url,
    token,
    ...(queueSizeMs !== undefined ? { queueSizeMs } : {}),
  });
  await p.connect();
  await p.publishAudio();
  const frame = new Int16Array(p.sampleRate / 50).fill(1000);
  for (let k = 0; k < 10; k++) p.captureAudio(frame);
  return p;
}

/** Places `n` participants, then ends them all the given way and closes them. */
async function cycle(n: number, end: 'room-deleted' | 'closed'): Promise<void> {
  const rooms = Array.from({ length: n }, () => uniqueRoom('threads'));
  await Promise.all(rooms.map((name) => roomService().createRoom({ name, emptyTimeout: 60 })));
  const phones = await Promise.all(rooms.map((r, i) => phone(r, i)));
  if (end === 'room-deleted') {
    const gone = phones.map((p) => new Promise<void>((r) => p.once('disconnected', () => r())));
    await Promise.all(rooms.map((r) => roomService().deleteRoom(r)));
    await Promise.all(gone);
  }
  await Promise.all(phones.map((p) => p.close()));
  if (end === 'closed')
    await Promise.all(
      rooms.map((r) =>
        roomService()
          .deleteRoom(r)
          .catch(() => undefined),
      ),
    );
}

const N = 4;
const capture = (t: Map<string, number>) => t.get('AudioSourceCapt') ?? 0;

describe('native threads after calls end', () => {
  for (const [how, what] of [
    ['room-deleted', 'ended by the server deleting their rooms'],
    ['closed', 'the bridge closed itself'],
  ] as const)
    it(`${N} calls ${what} leave no thread behind`, async () => {
      await cycle(1, 'closed'); // warm-up: the runtime's own threads exist from here on
      const base = threads();
      await cycle(N, how);
      const after = await eventually(
        'the threads of the ended calls to end',
        () => {
          const t = threads();
          return grown(t, base).length === 0 ? t : undefined;
        },
        15_000,
      ).catch(() => threads());
      expect(grown(after, base), `threads ${count(base)} → ${count(after)}`).toEqual([]);
    }, 90_000);

  it('a queued AudioSource runs one AudioSourceCapture thread per live call, an unqueued one none', async () => {
    const live = async (queueSizeMs: number) => {
      const base = capture(threads());
      const rooms = [uniqueRoom('threads-q'), uniqueRoom('threads-q')];
      await Promise.all(rooms.map((name) => roomService().createRoom({ name, emptyTimeout: 60 })));
      const phones = await Promise.all(rooms.map((r, i) => phone(r, i, queueSizeMs)));
      const during = capture(threads()) - base;
      await Promise.all(phones.map((p) => p.close()));
      await Promise.all(
        rooms.map((r) =>
          roomService()
            .deleteRoom(r)
            .catch(() => undefined),
        ),
      );
      await eventually('the capture threads to end', () => capture(threads()) <= base, 15_000);
      return during;
    };
    expect(await live(100)).toBe(2);
    expect(await live(0)).toBe(0);
  }, 90_000);
});
