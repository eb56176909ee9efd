"""Settings: built once at start-up from a YAML file, CANTATA_* environment variables and command
line flags (later sources win), then passed down explicitly."""

import os
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

DEFAULT_CONFIG = Path(str(files("server").joinpath("default.yaml")))


class ModelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    runtime: str = Field(min_length=1)
    concurrency: int = Field(default=1, ge=1, le=256)
    """How many syntheses of this model run at once, each on its own worker thread."""
    max_queue: int = Field(default=32, ge=0)
    """Requests waiting for a worker beyond this are refused with RESOURCE_EXHAUSTED."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Passed to the runtime as they are; each runtime validates its own."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricsSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)
    """Prometheus metrics are served over HTTP at /metrics on this port (0: any free port)."""


class TlsSettings(_Section):
    cert_file: Path | None = None
    key_file: Path | None = None
    client_ca_file: Path | None = None
    """When set, clients must present a certificate signed by this CA (mutual TLS)."""

    @model_validator(mode="after")
    def _check_pair(self) -> "TlsSettings":
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls needs both cert_file and key_file, or neither")
        if self.client_ca_file is not None and self.cert_file is None:
            raise ValueError("tls.client_ca_file needs cert_file and key_file")
        return self

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None


class AuthSettings(_Section):
    api_keys_file: Path | None = None
    """One key per line; blank lines and lines starting with # are ignored."""
    api_keys_env: str | None = None
    """The name of an environment variable holding comma-separated keys."""
    open_health: bool = True
    """Leave grpc.health.v1 open, for load balancers and Kubernetes probes."""
    open_reflection: bool = False


class LiveSettings(_Section):
    max_sessions: int = Field(default=256, ge=1)
    """Open LiveSynthesize sessions at once; more are refused with RESOURCE_EXHAUSTED."""
    idle_timeout_seconds: float = Field(default=60.0, gt=0)
    """A session with nothing to speak that receives nothing for this long is ended
    (DEADLINE_EXCEEDED)."""
    min_clause_chars: int = Field(default=60, ge=1)
    """Default for LiveStart.min_clause_chars: speak at a clause break once this much text waits."""
    max_wait_ms: int = Field(default=400, ge=1, le=10_000)
    """Default for LiveStart.max_wait_ms: speak up to a clause or word once text waits this long."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CANTATA_", env_nested_delimiter="__", extra="forbid"
    )

    host: str = "127.0.0.1"
    port: int = Field(default=50051, ge=0, le=65535)
    health_port: int | None = Field(default=None, ge=0, le=65535)
    """If set, grpc.health.v1 alone is also served here in plaintext, for probes that cannot
    speak TLS (the kubelet's gRPC probes)."""
    default_model: str = ""
    """The model for requests that name none; empty means the first configured model."""
    max_text_chars: int = Field(default=5000, ge=1)
    max_instructions_chars: int = Field(default=500, ge=1)
    max_segment_chars: int = Field(default=300, ge=20)
    """Longer sentences are split at clause or word boundaries so that time to first audio
    does not grow with the length of a sentence."""
    max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_prompt_audio_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_prompt_audio_seconds: float = Field(default=30.0, gt=0)
    drain_grace_seconds: float = Field(default=10.0, ge=0)
    """On SIGTERM, how long running syntheses may take to finish before they are cancelled."""
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
    models: list[ModelSettings] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_models(self) -> "Settings":
        names = [model.name for model in self.models]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"model names must be unique; repeated: {', '.join(duplicates)}")
        if not self.default_model:
            self.default_model = names[0]
        elif self.default_model not in names:
            raise ValueError(f"default_model {self.default_model!r} is not one of {names}")
        return self


class ConfigError(Exception):
    """The settings are invalid; the message says which and why."""


def load_settings(
    config_file: Path | None = None, flags: Mapping[str, Any] | None = None
) -> Settings:
    """File, then environment, then flags. Without a file (argument or CANTATA_CONFIG), the
    shipped default config serves the embedded Piper voice."""
    path = config_file or Path(os.environ.get("CANTATA_CONFIG") or DEFAULT_CONFIG)
    try:
        file_values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from error
    if not isinstance(file_values, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    env_values = EnvSettingsSource(Settings)()
    merged = {
        **file_values,
        **env_values,
        **{k: v for k, v in (flags or {}).items() if v is not None},
    }
    try:
        return Settings.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(
            f"invalid settings (from {path}, environment and flags):\n{error}"
        ) from error
