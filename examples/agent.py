"""A LiveKit agent written with LiveKit's own Python SDK (`livekit` from PyPI), knowing
nothing about this bridge: it finds the phone the way any LiveKit agent finds a SIP caller
(participant kind SIP, `sip.callStatus == "active"`), greets it with a tone, checks that it
hears the phone's tone, and can hang up with LiveKit's `lk.sip.EndCall` RPC.

    python examples/agent.py --url ws://127.0.0.1:7880 --token <agent token> --hangup

Prints one JSON line on stdout; exits 0 when it heard `--expect-hz`, 1 when it heard
something else, 2 on a timeout or error (with the reason on stderr).
Set up its virtual environment with `npm run setup` (scripts/setup-python-agent.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
from array import array

from livekit import rtc

RATE = 8000  # Hz, for both directions: the phone line's own rate
FRAME = RATE // 50  # 20 ms
PROBES = (300, 440, 700, 1000, 2000)  # Hz; the candidates for "what the phone says"
SIP = rtc.ParticipantKind.PARTICIPANT_KIND_SIP


def parse_args() -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--url", default=env("LIVEKIT_URL"), help="LiveKit URL (env LIVEKIT_URL)")
    p.add_argument("--token", default=env("LIVEKIT_TOKEN"), help="join token (env LIVEKIT_TOKEN)")
    p.add_argument(
        "--api-key", default=env("LIVEKIT_API_KEY"), help="mint a token instead (env LIVEKIT_API_KEY)"
    )
    p.add_argument("--api-secret", default=env("LIVEKIT_API_SECRET"), help="(env LIVEKIT_API_SECRET)")
    p.add_argument("--room", help="room to join when minting a token")
    p.add_argument("--identity", default="py-agent", help="identity when minting a token")
    p.add_argument("--tone-hz", type=float, default=1000, help="the greeting tone (default 1000)")
    p.add_argument(
        "--expect-hz", type=int, default=440, choices=PROBES, help="what the phone should say"
    )
    p.add_argument("--listen-seconds", type=float, default=3, help="how much of the phone to analyse")
    p.add_argument("--timeout", type=float, default=30, help="seconds for the whole run")
    p.add_argument("--hangup", action="store_true", help="end the call with lk.sip.EndCall afterwards")
    a = p.parse_args()
    if not a.url:
        p.error("--url (or LIVEKIT_URL) is required")
    if not a.token and not (a.api_key and a.api_secret and a.room):
        p.error("give --token (or LIVEKIT_TOKEN), or --api-key, --api-secret and --room")
    return a


def mint_token(a: argparse.Namespace) -> str:
    """An agent-kind token; `livekit.api` is only needed for this."""
    from livekit import api

    grants = api.VideoGrants(
        room_join=True, room=a.room, can_publish=True, can_subscribe=True, can_publish_data=True
    )
    token = api.AccessToken(a.api_key, a.api_secret).with_identity(a.identity).with_kind("agent")
    return token.with_grants(grants).to_jwt()


def goertzel_power(pcm: array[int], hz: float) -> float:
    """Power of `pcm` at `hz` (one bin of a DFT, computed in a single pass)."""
    coeff = 2 * math.cos(2 * math.pi * hz / RATE)
    s1 = s2 = 0.0
    for x in pcm:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def dominant_hz(pcm: array[int]) -> int | None:
    """The loudest of PROBES, or None when the audio is silence."""
    if not pcm or max(abs(x) for x in pcm) < 500:
        return None
    return max(PROBES, key=lambda hz: goertzel_power(pcm, hz))


def note(msg: str) -> None:
    """Progress for people, on stderr (stdout carries only the JSON line)."""
    print(f"agent.py: {msg}", file=sys.stderr, flush=True)


async def greet(source: rtc.AudioSource, hz: float, stop: asyncio.Event) -> None:
    """Plays a sine at `hz` until `stop`; capture_frame paces it in real time."""
    n = 0
    while not stop.is_set():
        step = 2 * math.pi * hz / RATE
        pcm = array("h", (int(8000 * math.sin(step * (n + i))) for i in range(FRAME)))
        await source.capture_frame(rtc.AudioFrame(pcm.tobytes(), RATE, 1, FRAME))
        n += FRAME


async def listen(phone: rtc.RemoteParticipant, seconds: float) -> array[int]:
    """`seconds` of the phone's microphone track, resampled by the SDK to RATE."""
    stream = rtc.AudioStream.from_participant(
        participant=phone,
        track_source=rtc.TrackSource.SOURCE_MICROPHONE,
        sample_rate=RATE,
        num_channels=1,
    )
    pcm = array("h")
    try:
        async for event in stream:
            pcm.extend(event.frame.data)  # int16 memoryview
            if len(pcm) >= seconds * RATE:
                break
    finally:
        await stream.aclose()
    return pcm


async def run(a: argparse.Namespace, step: list[str]) -> int:
    room = rtc.Room()
    loop = asyncio.get_running_loop()
    active: asyncio.Future[rtc.RemoteParticipant] = loop.create_future()
    gone = asyncio.Event()

    def consider(p: rtc.RemoteParticipant) -> None:
        # The whole contract an agent relies on: kind SIP, and the call is answered.
        if p.kind != SIP or active.done():
            return
        status = p.attributes.get("sip.callStatus")
        note(f"SIP participant {p.identity}: sip.callStatus={status}")
        if status == "active":
            active.set_result(p)

    def on_left(p: rtc.RemoteParticipant) -> None:
        if active.done() and p.identity == active.result().identity:
            gone.set()

    # Attached before connecting, so no change between connect() and the scan below is missed.
    room.on("participant_connected", consider)
    room.on("participant_attributes_changed", lambda _changed, p: consider(p))
    room.on("participant_disconnected", on_left)

    step[0] = "connecting"
    await room.connect(a.url, a.token or mint_token(a))
    source = rtc.AudioSource(RATE, 1, queue_size_ms=100)
    stop_tone = asyncio.Event()
    tone: asyncio.Task[None] | None = None
    try:
        step[0] = "waiting for a SIP participant with sip.callStatus=active"
        for p in room.remote_participants.values():  # already in the room: no connected event
            consider(p)
        phone = await active
        attributes = phone.attributes  # a snapshot taken while the call is active

        step[0] = "greeting"
        track = rtc.LocalAudioTrack.create_audio_track("agent-voice", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await room.local_participant.publish_track(track, options)
        tone = asyncio.create_task(greet(source, a.tone_hz, stop_tone))

        step[0] = "listening to the phone"
        heard = dominant_hz(await listen(phone, a.listen_seconds))
        ok = heard == a.expect_hz
        print(json.dumps({
            "phone": phone.identity,
            "kind": rtc.ParticipantKind.Name(phone.kind).removeprefix("PARTICIPANT_KIND_"),
            "callStatus": attributes.get("sip.callStatus"),
            "heard_hz": heard,
            "expect_hz": a.expect_hz,
            "attributes": attributes,
            "ok": ok,
        }), flush=True)

        if a.hangup:
            step[0] = "hanging up (lk.sip.EndCall) and waiting for the phone to leave"
            await room.local_participant.perform_rpc(
                destination_identity=phone.identity, method="lk.sip.EndCall", payload=""
            )
            await gone.wait()
            note(f"{phone.identity} left the room")
        return 0 if ok else 1
    finally:
        # Reverse order of setup: the tone finishes its last frame, then the source, the room.
        stop_tone.set()
        if tone is not None:
            await asyncio.wait([tone], timeout=1)
            if tone.done() and not tone.cancelled() and tone.exception():
                note(f"the tone stopped early: {tone.exception()!r}")
        await source.aclose()
        await room.disconnect()


def main() -> int:
    a = parse_args()
    step = ["starting"]  # what run() is doing, for the timeout message
    try:
        return asyncio.run(asyncio.wait_for(run(a, step), a.timeout))
    except asyncio.TimeoutError:
        print(f"agent.py: timed out after {a.timeout:g} s while {step[0]}", file=sys.stderr)
    except rtc.RpcError as e:
        print(f"agent.py: lk.sip.EndCall failed: {e.code} {e.message}", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 (a CLI: report anything else plainly)
        print(f"agent.py: {step[0]} failed: {type(e).__name__}: {e}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
