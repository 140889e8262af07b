"""verl's platform for a machine without an accelerator: torch's CPU device, gloo, logical Ray GPUs.

Registered with verl's `PlatformRegistry` as "cpu" and selected with `VERL_PLATFORM=cpu`. verl calls
its device module (`get_torch_device()`) for memory statistics, RNG state and streams on every step;
`torch.cpu` lacks most of those, so `CPUDeviceModule` answers them: memory from the process's
resident set, RNG from torch's CPU generator, streams from `torch.cpu`'s no-op stream.

Ray placement: verl sizes its resource pools in GPUs (`single_controller/ray/base.py`), so a CPU run
declares logical GPUs to Ray (`ray_init.num_gpus`, see `s2lpo_cli.verl_ext.cpu.mode`): each of verl's
worker processes holds one, and torch never sees a CUDA device.
"""

from __future__ import annotations

import contextlib
import os
import resource
from types import ModuleType, SimpleNamespace
from typing import Any

import torch
from verl.plugin.platform import PlatformBase, PlatformRegistry

from s2lpo_cli.verl_ext.cpu.memory import memory_available

PLATFORM_NAME = "cpu"


def _resident_bytes() -> int:
    """The process's resident memory now (Linux /proc), else its peak."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class CPUDeviceModule(ModuleType):
    """`torch.cpu` plus what verl asks of a device module and `torch.cpu` does not have."""

    def __init__(self) -> None:
        super().__init__("s2lpo_cpu_device")
        self.__dict__.update({k: getattr(torch.cpu, k) for k in dir(torch.cpu) if not k.startswith("__")})

    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def device_count() -> int:
        return 1

    @staticmethod
    def current_device() -> str:
        return "cpu"

    @staticmethod
    def set_device(device: Any) -> None:
        return None

    @staticmethod
    def synchronize(device: Any = None) -> None:
        return None

    @staticmethod
    def get_device_name(device: Any = None) -> str:
        return "cpu"

    @staticmethod
    def empty_cache() -> None:
        return None

    @staticmethod
    def ipc_collect() -> None:
        return None

    @staticmethod
    def set_per_process_memory_fraction(fraction: float, device: Any = None) -> None:
        return None

    @staticmethod
    def memory_allocated(device: Any = None) -> int:
        return _resident_bytes()

    memory_reserved = memory_allocated

    @staticmethod
    def max_memory_allocated(device: Any = None) -> int:
        return _peak_bytes()

    max_memory_reserved = max_memory_allocated

    @staticmethod
    def reset_peak_memory_stats(device: Any = None) -> None:
        return None

    @staticmethod
    def mem_get_info(device: Any = None) -> tuple[int, int]:
        return memory_available(), os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

    @staticmethod
    def memory_stats(device: Any = None) -> dict[str, int]:
        return {"allocated_bytes.all.current": _resident_bytes(), "allocated_bytes.all.peak": _peak_bytes()}

    @staticmethod
    def get_rng_state(device: Any = None) -> torch.Tensor:
        return torch.get_rng_state()

    @staticmethod
    def set_rng_state(state: torch.Tensor, device: Any = None) -> None:
        torch.set_rng_state(state)

    @staticmethod
    def manual_seed(seed: int) -> None:
        torch.manual_seed(seed)

    manual_seed_all = manual_seed

    @staticmethod
    def Event(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - torch's name
        return SimpleNamespace(record=lambda *a, **k: None, synchronize=lambda: None, wait=lambda *a, **k: None,
                               query=lambda: True)


CPU_DEVICE_MODULE = CPUDeviceModule()


@PlatformRegistry.register(platform=PLATFORM_NAME)
class CPUPlatform(PlatformBase):
    """torch's CPU device; gloo for collectives; Ray's GPU resource as one slot per worker process."""

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> ModuleType:
        return CPU_DEVICE_MODULE

    def is_available(self) -> bool:
        return True

    def current_device(self) -> str:  # type: ignore[override] - feeds .to() and torch.device(): "cpu", not 0
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: int | None = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"  # what Ray sets for the logical GPUs; torch (CPU build) ignores it

    @contextlib.contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None
