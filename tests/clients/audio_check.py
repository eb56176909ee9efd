"""Prints {"sample_rate", "channels", "seconds"} as JSON for the audio file given, decoded by
FFmpeg (PyAV): what the other languages' client suites call to check a file they wrote."""

import json
import sys

import av


def describe(path: str) -> dict[str, float]:
    with av.open(path) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        rate = stream.codec_context.sample_rate
        return {
            "sample_rate": rate,
            "channels": stream.codec_context.channels,
            "seconds": samples / rate,
        }


if __name__ == "__main__":
    print(json.dumps(describe(sys.argv[1])))
