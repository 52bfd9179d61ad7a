"""Which build of the kernels to load: the best ISA level the running CPU supports.

The C++ kernels are compiled once per x86-64 level (``x86-64-v2``: SSE4.2, the
baseline; ``x86-64-v3``: AVX2 and FMA; ``x86-64-v4``: AVX-512), each into its own
extension module ``resode._core_<level>``, so that a wheel runs on any x86-64 CPU
and uses its widest vectors. ``RESODE_ISA`` forces a level. Off x86-64 there is
one ``generic`` build; a ``native`` build (CMake option ``RESODE_NATIVE``) is the
only one in its installation.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import struct
from pathlib import Path
from types import ModuleType

X86_64_LEVELS = ("x86-64-v2", "x86-64-v3", "x86-64-v4")
SINGLE_BUILDS = ("native", "generic")


def module_name(level: str) -> str:
    return "resode._core_" + level.replace("-", "_")


def built_levels() -> tuple[str, ...]:
    """The levels whose kernel module is installed, in increasing order."""
    return tuple(
        level
        for level in (*X86_64_LEVELS, *SINGLE_BUILDS)
        if importlib.util.find_spec(module_name(level)) is not None
    )


def cpu_levels() -> tuple[str, ...]:
    """The x86-64 levels this CPU (and its operating system) support."""
    from . import _cpu  # compiled without level flags: safe on any CPU

    top = _cpu.x86_64_level()
    return tuple(level for level in X86_64_LEVELS if int(level[-1]) <= top)


def choose(requested: str | None, built: tuple[str, ...], supported: tuple[str, ...]) -> str:
    """The level to load; ImportError (one line) when none fits."""
    if not built:
        raise ImportError(
            "resode: no kernel module is installed (resode._core_*): reinstall resode"
        )
    single = [level for level in built if level in SINGLE_BUILDS]
    if requested is not None:
        if requested not in (*X86_64_LEVELS, *SINGLE_BUILDS):
            raise ImportError(
                f"RESODE_ISA={requested!r} is not a level: use one of "
                f"{', '.join(X86_64_LEVELS)} (built here: {', '.join(built)})"
            )
        if requested not in built:
            raise ImportError(
                f"RESODE_ISA={requested!r} is not in this build of resode "
                f"(built: {', '.join(built)})"
            )
        if requested in X86_64_LEVELS and requested not in supported:
            raise ImportError(
                f"RESODE_ISA={requested!r}: this CPU does not support it "
                f"(it supports: {', '.join(supported) or 'none of ' + ', '.join(X86_64_LEVELS)})"
            )
        return requested
    if single:
        return single[0]
    usable = [level for level in built if level in supported]
    if not usable:
        raise ImportError(
            "resode: this CPU supports none of the built levels "
            f"({', '.join(built)}); x86-64-v2 (SSE4.2, POPCNT) is the baseline"
        )
    return usable[-1]


def _elf_damage(data: bytes) -> str | None:
    """Why an ELF shared object is unusable (truncated), or None. The dynamic
    loader maps a truncated file and dies of SIGBUS, so this is checked first."""
    if data[:4] != b"\x7fELF" or len(data) < 64 or data[4] != 2:  # ELF64 only
        return None if data[:4] != b"\x7fELF" else "not a complete 64-bit ELF header"
    endian = "<" if data[5] == 1 else ">"
    phoff, shoff = struct.unpack_from(endian + "QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from(endian + "HHHH", data, 0x36)
    needed = max(phoff + phnum * phentsize, shoff + shnum * shentsize)
    for i in range(phnum):
        if phoff + (i + 1) * phentsize > len(data):
            break
        offset, filesz = struct.unpack_from(endian + "Q8x8x8xQ", data, phoff + i * phentsize + 8)
        needed = max(needed, offset + filesz)
    return f"truncated ({len(data)} of {needed} bytes)" if needed > len(data) else None


def _record_damage(path: Path, data: bytes) -> str | None:
    """Why a file differs from the hash that its installed wheel recorded, or None
    (also when nothing was recorded for this very file)."""
    try:
        dist = importlib.metadata.distribution("resode")
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in dist.files or ():
        if entry.hash is None or Path(str(dist.locate_file(entry))).resolve() != path.resolve():
            continue
        digest = hashlib.new(entry.hash.mode, data).digest()
        recorded = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4))
        return (
            None if digest == recorded else "its content differs from the installed wheel's record"
        )
    return None


def check_module_file(level: str) -> None:
    """ImportError (one line) if the level's module file is damaged."""
    spec = importlib.util.find_spec(module_name(level))
    path = Path(spec.origin) if spec and spec.origin else None
    if path is None or not path.is_file():
        return
    data = path.read_bytes()
    why = _elf_damage(data) or _record_damage(path, data)
    if why:
        raise ImportError(
            f"resode: the {level} kernels ({path.name}) are damaged: {why}; reinstall resode"
        )


def load_level(level: str) -> ModuleType:
    """The kernel module of a level, after checking its file; ImportError (one line)."""
    check_module_file(level)
    try:
        module = importlib.import_module(module_name(level))
    except ImportError as exc:  # a damaged or incompatible file: name it and why
        cause = " ".join(str(exc).split())
        raise ImportError(
            f"resode: the {level} kernels ({module_name(level)}) failed to load: {cause}"
        ) from exc
    return module


def load() -> tuple[ModuleType, str, tuple[str, ...]]:
    """(the kernel module, its level, the levels built); honours RESODE_ISA."""
    built = built_levels()
    requested = os.environ.get("RESODE_ISA") or None
    needs_cpu = requested in X86_64_LEVELS or not any(level in SINGLE_BUILDS for level in built)
    level = choose(requested, built, cpu_levels() if needs_cpu else ())
    return load_level(level), level, built
