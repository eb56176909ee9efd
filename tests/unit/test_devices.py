"""Device-memory readers against what they read: this process's real RSS, and recorded
amdgpu-sysfs, NVML, torch and Jetson readings laid out as those platforms present them."""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil

from server.observability.devices import (
    AmdGpuSysfs,
    DeviceMemory,
    Devices,
    Nvml,
    ProcessMemory,
    TorchAllocator,
    discover,
)

GIB = 1024**3


def test_cpu_reading_is_this_process_rss() -> None:
    (reading,) = ProcessMemory().read()
    rss = psutil.Process().memory_info().rss
    assert reading.device == "cpu"
    assert abs(reading.used_bytes - rss) < 16 * 1024 * 1024
    assert reading.total_bytes == psutil.virtual_memory().total


def amdgpu_tree(root: Path) -> None:
    """Two cards as the amdgpu driver shows them (an RX 6700 XT has 12 GiB), plus a connector
    entry (card0-DP-1) that has no memory files, as on a real machine."""
    drm = root / "sys" / "class" / "drm"
    for card, used in (("card0", 4_400_000_000), ("card1", 0)):
        device = drm / card / "device"
        device.mkdir(parents=True)
        (device / "mem_info_vram_total").write_text(f"{12 * GIB}\n")
        (device / "mem_info_vram_used").write_text(f"{used}\n")
    (drm / "card0-DP-1").mkdir()


def test_amdgpu_sysfs(tmp_path: Path) -> None:
    amdgpu_tree(tmp_path)
    assert AmdGpuSysfs(tmp_path / "sys" / "class" / "drm").read() == [
        DeviceMemory("amdgpu:card0", 4_400_000_000, 12 * GIB),
        DeviceMemory("amdgpu:card1", 0, 12 * GIB),
    ]


class FakeNvml:
    """The calls nvidia-ml-py offers, answering as an 80 GB H100 does."""

    def __init__(self, fail_init: bool = False) -> None:
        self.fail_init = fail_init

    def nvmlInit(self) -> None:  # noqa: N802 - NVML's names
        if self.fail_init:
            raise RuntimeError("NVML Shared Library Not Found")

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:  # noqa: N802
        return f"handle{index}"

    def nvmlDeviceGetMemoryInfo(self, handle: str) -> Any:  # noqa: N802
        assert handle == "handle0"
        return SimpleNamespace(total=85_520_809_984, used=5_033_164_800, free=80_487_645_184)


def test_nvml() -> None:
    assert Nvml(FakeNvml()).read() == [DeviceMemory("cuda:0", 5_033_164_800, 85_520_809_984)]


def test_torch_allocator_reads_only_once_torch_is_loaded() -> None:
    assert TorchAllocator(modules={}).read() == []
    cuda = SimpleNamespace(
        is_available=lambda: True,
        device_count=lambda: 2,
        mem_get_info=lambda i: (10 * GIB, 16 * GIB) if i == 0 else (16 * GIB, 16 * GIB),
    )
    torch: Any = SimpleNamespace(cuda=cuda)
    assert TorchAllocator(modules={"torch": torch}).read() == [
        DeviceMemory("cuda:0", 6 * GIB, 16 * GIB),
        DeviceMemory("cuda:1", 0, 16 * GIB),
    ]


def test_discovery_on_a_jetson(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "nv_tegra_release").write_text("# R36 (release), REVISION: 4.0\n")
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text(
        "MemTotal:       64335244 kB\nMemFree:        50000000 kB\nMemAvailable:   60000000 kB\n"
    )
    devices = discover(tmp_path, import_nvml=lambda: FakeNvml(fail_init=True))
    readings = {r.device: r for r in devices.read()}
    assert readings["jetson:0"] == DeviceMemory(
        "jetson:0", (64335244 - 60000000) * 1024, 64335244 * 1024
    )
    assert "cpu" in readings


def test_discovery_prefers_vendor_readers_and_tolerates_missing_libraries(
    tmp_path: Path,
) -> None:
    amdgpu_tree(tmp_path)
    amd = discover(tmp_path, import_nvml=lambda: FakeNvml(fail_init=True))
    assert [type(r).__name__ for r in amd.readers] == ["ProcessMemory", "AmdGpuSysfs"]
    nvidia = discover(tmp_path / "empty", import_nvml=FakeNvml)
    assert [type(r).__name__ for r in nvidia.readers] == ["ProcessMemory", "Nvml"]

    def no_package() -> Any:
        raise ModuleNotFoundError("No module named 'pynvml'")

    plain = discover(tmp_path / "empty", import_nvml=no_package)
    assert [type(r).__name__ for r in plain.readers] == ["ProcessMemory", "TorchAllocator"]


def test_a_failing_reader_is_skipped(tmp_path: Path) -> None:
    amdgpu_tree(tmp_path)
    reader = AmdGpuSysfs(tmp_path / "sys" / "class" / "drm")
    (tmp_path / "sys" / "class" / "drm" / "card1" / "device" / "mem_info_vram_used").unlink()
    readings = Devices([reader, ProcessMemory()]).read()
    assert [r.device for r in readings] == ["cpu"]


def test_the_server_itself_never_loads_torch() -> None:
    # A fresh interpreter: other tests in this process load torch through the Dia runtime.
    check = (
        "import sys, server.api.server\n"  # everything the server imports at start-up
        "from server.observability.devices import TorchAllocator\n"
        "assert 'torch' not in sys.modules\n"
        "assert TorchAllocator().read() == []\n"
    )
    subprocess.run([sys.executable, "-c", check], check=True)
