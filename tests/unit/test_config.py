from pathlib import Path

import pytest

from server.config import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cantata.yaml"
    path.write_text(text)
    return path


def test_the_shipped_default_serves_piper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CANTATA_CONFIG", raising=False)
    settings = load_settings()
    assert [m.runtime for m in settings.models] == ["piper"]
    assert (settings.host, settings.port, settings.default_model) == ("127.0.0.1", 50051, "piper")


def test_flags_beat_environment_beat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "port: 1000\nhost: 0.0.0.0\nmodels: [{name: a, runtime: piper}]\n")
    monkeypatch.setenv("CANTATA_PORT", "2000")
    monkeypatch.setenv("CANTATA_MAX_TEXT_CHARS", "42")
    settings = load_settings(path, {"port": 3000, "host": None})
    assert (settings.port, settings.host, settings.max_text_chars) == (3000, "0.0.0.0", 42)
    assert load_settings(path).port == 2000


def test_several_models_and_an_explicit_default(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "default_model: b\nmodels:\n - {name: a, runtime: piper}\n"
        " - {name: b, runtime: piper, concurrency: 3, options: {deterministic: true}}\n",
    )
    settings = load_settings(path)
    assert settings.default_model == "b"
    assert settings.models[1].concurrency == 3
    assert settings.models[1].options == {"deterministic": True}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: []", "at least 1"),
        ("models: [{name: a, runtime: piper}, {name: a, runtime: piper}]", "repeated: a"),
        ("default_model: z\nmodels: [{name: a, runtime: piper}]", "default_model 'z'"),
        ("port: 70000\nmodels: [{name: a, runtime: piper}]", "port"),
        ("colour: red\nmodels: [{name: a, runtime: piper}]", "colour"),
        ("- a list", "mapping"),
        ("models: [", "cannot read"),
    ],
)
def test_bad_settings_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text))
