"""Model numerics: which backend (``fp32`` or ``bf16``) is fastest on the machine at hand.

bfloat16 autocast pays only where the hardware multiplies bfloat16 natively: CUDA devices that
support it, and CPUs with AMX or AVX-512-BF16. Elsewhere oneDNN emulates it, and it is several
times *slower* than fp32 (an AMD EPYC without either: 0.27x the seed-style explainer, against
1.64x in fp32). ``backend="auto"`` picks bf16 only where it is native; ``bf16`` asked for on a
CPU without those units is honoured with a loud warning.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from dlexplain.errors import ConfigError
from dlexplain.explain.config import BACKENDS

logger = logging.getLogger(__name__)

#: CPU flags (as /proc/cpuinfo names them) of units that multiply bfloat16 natively
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
#: flags a benchmark prints beside its figures
REPORTED_CPU_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")


def _cpuinfo() -> dict[str, str]:
    """The first processor's ``key: value`` lines of /proc/cpuinfo ({} where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    info: dict[str, str] = {}
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    return info


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux names); empty where they cannot be read."""
    return frozenset(_cpuinfo().get("flags", "").split())


def native_bf16(device: str) -> bool:
    """True when ``device`` ("cpu" or "cuda") multiplies bfloat16 in hardware."""
    if device == "cuda":
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return bool(cpu_flags() & set(BF16_CPU_FLAGS))


def auto_backend(device: str) -> str:
    """What ``auto`` means on ``device``: ``bf16`` where bfloat16 is native, else ``fp32``."""
    return "bf16" if native_bf16(device) else "fp32"


def resolve_backend(backend: str, device: str) -> str:
    """The backend to run on ``device``: ``auto`` → :func:`auto_backend` (the choice logged);
    ``bf16`` on a device without native bfloat16 warns."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend {backend!r} is not one of {BACKENDS}")
    if backend == "auto":
        chosen = auto_backend(device)
        logger.info("backend auto on %s: %s", device, chosen)
        return chosen
    if backend == "bf16" and not native_bf16(device):
        message = (
            f"backend bf16 on a {device} without native bfloat16 units "
            f"({' or '.join(BF16_CPU_FLAGS)}): expect it several times slower than fp32; "
            "use backend 'auto' or 'fp32'"
        )
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        logger.warning(message)
    return backend


def machine_figures() -> dict[str, object]:
    """What a benchmark prints beside its figures: CPU model, its relevant flags, torch threads."""
    import torch

    info, flags = _cpuinfo(), cpu_flags()
    return {
        "cpu": info.get("model name", "unknown"),
        "cpus": os.cpu_count(),
        **{f"flag_{flag}": flag in flags for flag in REPORTED_CPU_FLAGS},
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }
