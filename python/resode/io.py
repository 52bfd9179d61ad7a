"""Saving and loading models: one .npz file, arrays plus a JSON header, no pickle.

Layout: ``header`` holds a JSON document (format name and version, resode's
version, the model configuration) stored as a unicode array; the parameters
are stored as plain arrays ``V``, ``b``, for heads with parameters ``W``,
``mu``, and for an opening layer ``K0``, ``c0``. Loading uses
``allow_pickle=False``, so it never executes code.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from typing import Any

import numpy as np

from .model import ResNetODE, ZeroGradientWarning

__all__ = ["FORMAT_VERSION", "load", "save"]

FORMAT = "resode.ResNetODE"
# 2: config gained scheme, project, share (version 1 files load as euler);
# 3: config gained input_dim, opening_activation, and files the opening layer's K0, c0
# (older files load without an opening layer)
FORMAT_VERSION = 3


def save(model: ResNetODE, path: str | os.PathLike) -> None:
    from . import __version__

    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "resode_version": __version__,
        "config": model.config(),
    }
    # Any: numpy's stub of savez checks **arrays against its own allow_pickle: bool
    arrays: dict[str, Any] = dict(model.parameters())
    path = os.fspath(path)
    # np.savez appends .npz to other names; write exactly the path asked for
    with open(path, "wb") as f:
        np.savez(f, header=np.array(json.dumps(header)), **arrays)


def load(path: str | os.PathLike) -> ResNetODE:
    """Read a model written by ``ResNetODE.save``. Bad files raise ValueError."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            files = {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise ValueError(
            f"{path} is not a readable resode model file (truncated or corrupted?): {exc}"
        ) from None
    header = _header(path, files)
    config = header["config"]
    try:
        with warnings.catch_warnings():  # the zeros are overwritten below
            warnings.simplefilter("ignore", ZeroGradientWarning)
            model = ResNetODE(**config, init="zeros")
        expected = model.parameters()
        if set(expected) | {"header"} != set(files):
            raise ValueError(f"holds arrays {sorted(files)}, expected {sorted(expected)}")
        for name, a in expected.items():
            got = files[name]
            if got.shape != a.shape or got.dtype != a.dtype:
                raise ValueError(
                    f"{name} has shape {got.shape} and dtype {got.dtype}, "
                    f"expected {a.shape} and {a.dtype}"
                )
        model.set_parameters(**{name: files[name] for name in expected})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: inconsistent resode model file: {exc}") from None
    return model


def _header(path: str, files: dict[str, np.ndarray]) -> dict[str, Any]:
    if "header" not in files or files["header"].dtype.kind != "U":
        raise ValueError(f"{path} is not a resode model file (no header)")
    try:
        header = json.loads(str(files["header"]))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: corrupted header: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a resode model file (format {header.get('format')!r})"
            if isinstance(header, dict)
            else f"{path}: corrupted header"
        )
    version = header.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{path}: corrupted header (format_version {version!r})")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written in model format version {version} (by resode "
            f"{header.get('resode_version')}); this resode reads up to version "
            f"{FORMAT_VERSION}: upgrade resode"
        )
    if not isinstance(header.get("config"), dict):
        raise ValueError(f"{path}: corrupted header (no config)")
    return header
