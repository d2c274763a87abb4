"""Which device and floating-point type a scoring model's weights use: ``"float32"``, ``"bfloat16"`` or
``"auto"``, the fastest of the two that the machine computes natively.

bfloat16 halves the scoring time of a language model on a CPU with bf16 instructions
(AVX512-BF16 or AMX), but where the CPU lacks them torch emulates it, about 6x slower than
float32. ``"auto"`` therefore picks bfloat16 on a CPU only where torch reports native support
*and* runs kernels that use it (``ATEN_CPU_CAPABILITY=avx2`` lowers them to AVX2, which has
none), and on a GPU where CUDA supports it.
"""
from __future__ import annotations

from typing import Any

__all__ = ["DTYPES", "auto_dtype", "check_device", "check_dtype", "cpu_has_native_bf16",
           "resolve_dtype"]

DTYPES = ("auto", "float32", "bfloat16")
# kernel capabilities (torch.backends.cpu.get_cpu_capability()) with no bf16 instructions
_NO_BF16_KERNELS = {"AVX2", "DEFAULT", "NO AVX"}


def check_dtype(dtype: str | None) -> str | None:
    """``dtype`` if it is None or one of :data:`DTYPES`, else ValueError."""
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)} (or none), got {dtype!r}")
    return dtype


def check_device(device: str | None) -> str | None:
    """``device`` if torch can use it: None, "auto", "cpu", or "cuda"/"cuda:N" where torch sees
    that GPU. Raises ValueError otherwise (at load time, rather than a CUDA assertion deep in
    the first model call)."""
    if device in (None, "auto"):
        return device
    import torch

    try:
        kind = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda', 'cuda:N' or 'auto'"
                         ) from exc
    if kind.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise ValueError(f"device {device!r}: this torch sees no CUDA GPU (use 'cpu' or "
                             "'auto')")
        if kind.index is not None and kind.index >= n:
            raise ValueError(f"device {device!r}: this torch sees {n} CUDA GPU(s)")
    elif kind.type != "cpu":
        raise ValueError(f"device {device!r} is not supported: use 'cpu', 'cuda' or 'auto'")
    return device


def cpu_has_native_bf16() -> bool:
    """Whether torch computes bfloat16 natively on this CPU: the CPU has AVX512-BF16 or AMX
    and the kernels in use are not lowered below them. Probes absent from this torch: False."""
    import torch

    try:
        native = any(probe() for probe in (getattr(torch.cpu, name, None) for name in
                                            ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
                     if probe is not None)
        capability = getattr(torch.backends.cpu, "get_cpu_capability", None)
        return native and capability is not None and \
            str(capability()).upper() not in _NO_BF16_KERNELS
    except Exception:  # a probe that fails says nothing about support
        return False


def auto_dtype(device: Any = None) -> str:
    """``"bfloat16"`` where ``device`` (a name, a ``torch.device``, or None/"auto": CUDA when
    available, else the CPU) computes it natively, else ``"float32"``."""
    import torch

    if device in (None, "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    kind = torch.device(device).type
    if kind == "cuda":
        supported = getattr(torch.cuda, "is_bf16_supported", None)
        return "bfloat16" if supported is not None and supported() else "float32"
    if kind == "cpu":
        return "bfloat16" if cpu_has_native_bf16() else "float32"
    return "float32"


def resolve_dtype(dtype: str | None, device: Any = None) -> str | None:
    """``dtype`` checked, with ``"auto"`` resolved for ``device`` (None stays None: the
    loader's default)."""
    return auto_dtype(device) if check_dtype(dtype) == "auto" else dtype
