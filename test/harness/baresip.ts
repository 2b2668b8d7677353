/**
 * baresip (Debian `baresip-core`) as a second, independent SIP stack with real audio:
 * auto-answers calls over UDP and TCP, plays a WAV, records what it heard.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeDualPort, spawnManaged, tcpFree, udpFree, waitUntil, type ManagedProcess } from './process.js';
import { requirePeer } from './peers.js';

export interface BaresipOptions {
  /** 8 kHz mono 16-bit WAV to play to the caller (default: silence). */
  wav?: Uint8Array;
  /** Seconds before baresip quits by itself (default 30). */
  lifetimeS?: number;
  codecs?: string;
  /** User part of baresip's account (default `uas`); calls to another user get 404. */
  user?: string;
}

export interface BaresipRun {
  port: number;
  dir: string;
  process: ManagedProcess;
  /** WAV files baresip recorded (`dump-*-dec.wav` = heard, `dump-*-enc.wav` = sent). */
  recordings(): Promise<string[]>;
  stop(): Promise<void>;
}

/** A 16-bit mono PCM WAV file. */
export function wavFile(samples: Int16Array, sampleRate = 8000): Uint8Array {
  const data = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

export async function startBaresip(opts: BaresipOptions = {}): Promise<BaresipRun> {
  const bin = requirePeer('baresip');
  const port = await freeDualPort();
  const dir = await mkdtemp(join(tmpdir(), 'baresip-'));
  const rtpBase = 30000 + 2 * Math.floor(Math.random() * 5000);
  await writeFile(join(dir, 'in.wav'), opts.wav ?? wavFile(new Int16Array(8000 * 3)));
  await writeFile(
    join(dir, 'accounts'),
    `<sip:${opts.user ?? 'uas'}@127.0.0.1>;regint=0;answermode=auto;audio_codecs=${opts.codecs ?? 'PCMU,PCMA'}\n`,
  );
  await writeFile(
    join(dir, 'config'),
    [
      `sip_listen 127.0.0.1:${port}`,
      'net_interface 127.0.0.1',
      `audio_source aufile,${join(dir, 'in.wav')}`,
      'audio_player alsa,null',
      'audio_alert alsa,null',
      `rtp_ports ${rtpBase}-${rtpBase + 20}`,
      `snd_path ${dir}`,
      'module_path /usr/lib/baresip/modules',
      'module g711.so',
      'module aufile.so',
      'module alsa.so',
      'module sndfile.so',
      'module_app account.so',
      'module_app menu.so',
      '',
    ].join('\n'),
  );
  const proc = spawnManaged('baresip', bin, ['-f', dir, '-t', String(opts.lifetimeS ?? 30)], { cwd: dir });
  await waitUntil('baresip', async () => !(await tcpFree(port)) && !(await udpFree(port)), {
    timeoutMs: 10_000,
    intervalMs: 25,
    proc,
  });
  return {
    port,
    dir,
    process: proc,
    async recordings() {
      return (await readdir(dir)).filter((f) => f.startsWith('dump-')).map((f) => join(dir, f));
    },
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export { readFile };
