"""`cantata say "Hello there" -o hello.wav`, `some-llm | cantata live -o -` and `cantata voices`.
Installed packages may add sub-commands through the `cantata.commands` entry points (the server
adds `serve`)."""

import argparse
import codecs
import json
import os
import struct
import sys
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import grpc

from cantata_client import captions
from cantata_client.client import AudioStream, Client
from cantata_client.errors import CantataError
from cantata_client.live import LiveAudio, LiveMarks, LiveSession
from cantata_client.marks import Mark, Timing
from cantata_client.requests import Encoding

_BY_SUFFIX = {
    ".wav": Encoding.WAV,
    ".flac": Encoding.FLAC,
    ".ogg": Encoding.OGG_OPUS,
    ".opus": Encoding.OGG_OPUS,
    ".mp3": Encoding.MP3,
    ".pcm": Encoding.PCM,
    ".raw": Encoding.PCM,
    ".ulaw": Encoding.MULAW,
    ".mulaw": Encoding.MULAW,
    ".ul": Encoding.MULAW,
    ".alaw": Encoding.ALAW,
    ".al": Encoding.ALAW,
}


def _client(args: argparse.Namespace) -> Client:
    api_key = args.api_key or os.environ.get("CANTATA_API_KEY") or None
    return Client(args.server, timeout=args.timeout, tls_ca=args.tls_ca, api_key=api_key)


def _encoding(args: argparse.Namespace) -> Encoding:
    return args.encoding or _BY_SUFFIX.get(Path(args.output).suffix.lower(), Encoding.WAV)


def _say(args: argparse.Namespace) -> int:
    encoding = _encoding(args)
    caption_format = None
    if args.captions:
        caption_format = captions.FORMATS.get(Path(args.captions).suffix.lower())
        if caption_format is None:
            print(f"cantata: --captions {args.captions}: use a .vtt or .srt file", file=sys.stderr)
            return 2
    timing = None
    if args.marks or args.captions:
        timing = Timing(words=True, phonemes=args.marks, visemes=args.marks)
    # JSON lines stay on a stream of their own: standard error when the audio is on standard
    # output, and then without the human summary at the end.
    marks_out = sys.stderr if args.output == "-" else sys.stdout
    with _client(args) as client:
        stream = client.stream(args.text, **_speaking_options(args, encoding, timing))
        printer = _MarkPrinter(marks_out) if args.marks else None
        _write_audio(args.output, encoding, lambda out: _copy(stream, out, printer))
    if caption_format is not None:
        Path(args.captions).write_text(
            caption_format(captions.cues(stream.marks, args.text)), encoding="utf-8"
        )
    if stream.stats is not None and not (args.marks and marks_out is sys.stderr):
        stats = stream.stats
        print(
            f"{stats.audio_seconds:.2f} s of audio from {stats.model}/{stats.voice} in "
            f"{stats.compute_seconds:.2f} s (real-time factor {stats.real_time_factor:.3f}, "
            f"first audio after {stats.time_to_first_audio_seconds * 1000:.0f} ms)",
            file=sys.stderr,
        )
    return 0


def _live(args: argparse.Namespace) -> int:
    """Speaks standard input as it arrives, writing audio as it comes."""
    encoding = _encoding(args)
    marks_out = sys.stderr if args.output == "-" else sys.stdout
    with _client(args) as client:
        live = client.live(
            min_clause_chars=args.min_clause_chars,
            max_wait_ms=args.max_wait_ms,
            **_speaking_options(args, encoding, Timing.all() if args.marks else None),
        )
        with live:
            threading.Thread(target=_send_input, args=(live,), daemon=True).start()
            printed = marks_out if args.marks else None
            _write_audio(args.output, encoding, lambda out: _copy_live(live, out, printed))
    return 0


def _speaking_options(
    args: argparse.Namespace, encoding: Encoding, timing: Timing | None
) -> dict[str, Any]:
    """The request options `say` and `live` share."""
    return {
        "model": args.model,
        "voice": args.voice,
        "speaker": args.speaker,
        "encoding": encoding,
        "sample_rate_hz": args.rate,
        "speed": args.speed,
        "instructions": args.instructions,
        "timing": timing,
    }


def _write_audio(output: str, encoding: Encoding, copy: Callable[[BinaryIO], None]) -> None:
    """Audio to standard output ("-") or a file; a finished WAV file states its real sizes."""
    if output == "-":
        copy(sys.stdout.buffer)
        return
    with open(output, "wb") as out:
        copy(out)
        if encoding is Encoding.WAV:
            _write_wav_sizes(out)


def _send_input(live: LiveSession) -> None:
    """Standard input to the session as it arrives (not line by line: a writer that pauses
    mid-line is heard up to its last whole word), then half-close."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    descriptor = sys.stdin.fileno()
    while data := os.read(descriptor, 4096):
        if text := decoder.decode(data):
            live.send(text)
    if text := decoder.decode(b"", final=True):
        live.send(text)
    live.close()


def _copy_live(live: LiveSession, out: BinaryIO, marks_out: TextIO | None) -> None:
    for event in live:
        if isinstance(event, LiveAudio):
            out.write(event.audio)
            out.flush()
        elif isinstance(event, LiveMarks) and marks_out is not None:
            _print_marks(event.marks, marks_out)


def _print_marks(marks: list[Mark], out: TextIO) -> None:
    for mark in marks:
        print(json.dumps(mark.to_json(), ensure_ascii=False), file=out)
    out.flush()


class _MarkPrinter:
    """Prints each mark once, as it arrives: before the audio it describes is written."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._printed = 0

    def __call__(self, stream: AudioStream) -> None:
        _print_marks(stream.marks[self._printed :], self._out)
        self._printed = len(stream.marks)


def _copy(stream: AudioStream, out: BinaryIO, printer: "_MarkPrinter | None" = None) -> None:
    for chunk in stream:
        if printer is not None:
            printer(stream)
        out.write(chunk)
        out.flush()
    if printer is not None:
        printer(stream)


def _write_wav_sizes(out: BinaryIO) -> None:
    """A streamed WAV header carries unknown sizes; a finished file can state the real ones."""
    size = out.tell()
    out.seek(4)
    out.write(struct.pack("<I", size - 8))
    out.seek(40)
    out.write(struct.pack("<I", size - 44))


def _voices(args: argparse.Namespace) -> int:
    with _client(args) as client:
        voices = client.voices(args.model)
    for voice in voices:
        caps = voice.capabilities
        features = [
            name
            for name in (
                "streaming",
                "voice_cloning",
                "dialogue",
                "speed",
                "instructions",
                "timing",
            )
            if getattr(caps, name)
        ]
        default = " (default)" if voice.is_default else ""
        print(
            f"{voice.model}/{voice.voice_id}{default}  {voice.language}  "
            f"{voice.native_sample_rate_hz} Hz  runtime={voice.runtime}  "
            f"features={','.join(features)}  sampling={','.join(caps.sampling_params)}"
            + (f"  speakers={len(voice.speakers)}" if voice.speakers else "")
        )
    return 0


def _health(args: argparse.Namespace) -> int:
    """Exit 0 when the service answers SERVING: for container health checks and scripts."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(args.server) as channel:
        request = health_pb2.HealthCheckRequest(service=args.service)
        try:
            status = health_pb2_grpc.HealthStub(channel).Check(request, timeout=args.timeout or 5)
        except grpc.RpcError as error:
            print(f"cantata: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(status.status)
    print(name)
    return 0 if status.status == health_pb2.HealthCheckResponse.SERVING else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cantata", description="Cantata text-to-speech")
    commands = parser.add_subparsers(dest="command", required=True)

    def client_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--server", default="127.0.0.1:50051", help="host:port")
        command.add_argument("--timeout", type=float, default=None, help="seconds")
        command.add_argument("--model", default="", help="model (default: the server's)")
        command.add_argument(
            "--tls-ca", metavar="FILE", help="connect over TLS, trusting this CA certificate"
        )
        command.add_argument(
            "--api-key",
            default="",
            help="sent as `authorization: Bearer KEY` (default: $CANTATA_API_KEY)",
        )
        return command

    def speaking_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = client_command(name, help_text)
        command.add_argument("-o", "--output", default="-", help="file, or - for standard output")
        command.add_argument("--voice", default="")
        command.add_argument("--speaker", default="")
        command.add_argument(
            "--encoding",
            type=Encoding,
            choices=list(Encoding),
            help="default: from the file's suffix, else wav",
        )
        command.add_argument(
            "--rate",
            type=int,
            default=0,
            help="sample rate in Hz (0: the voice's; mulaw, alaw: 8000)",
        )
        command.add_argument("--speed", type=float, default=0.0)
        command.add_argument(
            "--instructions", default="", help='how to speak, e.g. "slowly, warm and amused"'
        )
        command.add_argument(
            "--marks",
            action="store_true",
            help="print word, phoneme and viseme timings as JSON lines, as they arrive: to "
            "standard output, or to standard error when the audio goes to standard output",
        )
        return command

    say = speaking_command("say", "speak text into a file, streaming as audio arrives")
    say.add_argument("text")
    say.add_argument(
        "--captions",
        metavar="FILE",
        help="write captions timed by the spoken words: .vtt (WebVTT) or .srt (SubRip)",
    )
    say.set_defaults(handler=_say)

    live = speaking_command(
        "live", "speak standard input as it arrives (some-llm | cantata live -o -)"
    )
    live.add_argument(
        "--min-clause-chars",
        type=int,
        default=0,
        help="speak at a clause break once this much text waits (0: the server's default)",
    )
    live.add_argument(
        "--max-wait-ms",
        type=int,
        default=0,
        help="speak up to a clause or word once text has waited this long (0: the server's)",
    )
    live.set_defaults(handler=_live)

    voices = client_command("voices", "list the server's voices")
    voices.set_defaults(handler=_voices)

    health = commands.add_parser("health", help="check health; exit 0 when SERVING")
    health.add_argument("--server", default="127.0.0.1:50051", help="host:port (plaintext)")
    health.add_argument("--service", default="", help='"" (the server), or models/<name>')
    health.add_argument("--timeout", type=float, default=None, help="seconds")
    health.set_defaults(handler=_health)

    for entry_point in entry_points(group="cantata.commands"):
        entry_point.load()(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except CantataError as error:
        print(f"cantata: {error}", file=sys.stderr)
        return 1
