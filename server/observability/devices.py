"""Device memory, read the way each platform allows. Readers are discovered at start-up (never
at import); a platform library that is missing or fails is simply not used."""

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import psutil
import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeviceMemory:
    device: str
    used_bytes: int
    total_bytes: int


class MemoryReader(Protocol):
    def read(self) -> list[DeviceMemory]: ...


class ProcessMemory:
    """CPU models: this process's resident memory out of the machine's."""

    def read(self) -> list[DeviceMemory]:
        rss = psutil.Process().memory_info().rss
        return [DeviceMemory("cpu", rss, psutil.virtual_memory().total)]


class AmdGpuSysfs:
    """AMD GPUs through the amdgpu driver's sysfs files, with no library at all."""

    def __init__(self, drm: Path) -> None:
        self.cards = sorted(
            card
            for card in drm.glob("card[0-9]*")
            if (card / "device" / "mem_info_vram_total").is_file()
        )

    def read(self) -> list[DeviceMemory]:
        return [
            DeviceMemory(
                f"amdgpu:{card.name}",
                int((card / "device" / "mem_info_vram_used").read_text()),
                int((card / "device" / "mem_info_vram_total").read_text()),
            )
            for card in self.cards
        ]


class Nvml:
    """NVIDIA GPUs through NVML (the nvidia-ml-py package), the whole device's view."""

    def __init__(self, nvml: Any) -> None:
        nvml.nvmlInit()
        self._nvml = nvml
        self._handles = [
            nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())
        ]

    def read(self) -> list[DeviceMemory]:
        readings = []
        for index, handle in enumerate(self._handles):
            info = self._nvml.nvmlDeviceGetMemoryInfo(handle)
            readings.append(DeviceMemory(f"cuda:{index}", int(info.used), int(info.total)))
        return readings


class TorchAllocator:
    """CUDA and ROCm devices as torch sees them (ROCm builds expose HIP as `cuda`). Reads nothing
    until a runtime has imported torch: the server never imports it itself."""

    def __init__(self, modules: dict[str, ModuleType] | None = None) -> None:
        self._modules = sys.modules if modules is None else modules

    def read(self) -> list[DeviceMemory]:
        torch: Any = self._modules.get("torch")
        if torch is None or not torch.cuda.is_available():
            return []
        readings = []
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            readings.append(DeviceMemory(f"cuda:{index}", int(total - free), int(total)))
        return readings


class JetsonUnifiedMemory:
    """Jetson's GPU shares the system's memory, so its memory is the machine's."""

    def __init__(self, meminfo: Path) -> None:
        self._meminfo = meminfo

    def read(self) -> list[DeviceMemory]:
        fields = {}
        for line in self._meminfo.read_text().splitlines():
            name, _, rest = line.partition(":")
            fields[name] = int(rest.split()[0]) * 1024
        total = fields["MemTotal"]
        return [DeviceMemory("jetson:0", total - fields["MemAvailable"], total)]


def _import_nvml() -> Any:
    return importlib.import_module("pynvml")


def discover(root: Path = Path("/"), import_nvml: Callable[[], Any] = _import_nvml) -> "Devices":
    readers: list[MemoryReader] = [ProcessMemory()]
    if (root / "etc" / "nv_tegra_release").exists():
        readers.append(JetsonUnifiedMemory(root / "proc" / "meminfo"))
    amd = AmdGpuSysfs(root / "sys" / "class" / "drm")
    if amd.cards:
        readers.append(amd)
    try:
        readers.append(Nvml(import_nvml()))
    except Exception as error:  # no package, no driver, no GPU: all mean "not NVIDIA"
        log.debug("nvml_unavailable", reason=str(error))
    if not any(isinstance(reader, AmdGpuSysfs | Nvml) for reader in readers):
        readers.append(TorchAllocator())
    return Devices(readers)


class Devices:
    def __init__(self, readers: list[MemoryReader]) -> None:
        self.readers = readers

    def read(self) -> list[DeviceMemory]:
        """Every reading that can be taken now; a reader that fails is skipped, not fatal."""
        readings: list[DeviceMemory] = []
        for reader in self.readers:
            try:
                readings.extend(reader.read())
            except Exception as error:
                log.warning(
                    "device_memory_unreadable", reader=type(reader).__name__, reason=str(error)
                )
        return readings
