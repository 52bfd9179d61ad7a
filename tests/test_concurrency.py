"""Kernels release the GIL; concurrent calls from Python threads agree with serial ones."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import resode
from conftest import make_problem, ticks_during


def test_gil_is_released_during_a_kernel():
    kw = make_problem("inner", "tanh", "state", N=50_000, d=8, L=200)
    # with the GIL held for the whole call, the spinner could not run at all
    assert ticks_during(lambda: resode.loss_and_grad(**kw, threads=1)) > 1000


def test_concurrent_calls_match_serial_calls():
    problems = [
        make_problem(f, "tanh", "softmax", N=3000, d=5, L=20, seed=i)
        for i, f in enumerate(["inner", "outer", "symmetric", "antisymmetric"] * 2)
    ]
    serial = [resode.loss_and_grad(**kw, threads=1) for kw in problems]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda kw: resode.loss_and_grad(**kw, threads=2), problems))
    for a, b in zip(serial, parallel, strict=True):
        assert a.loss == b.loss
        for name in ("dV", "db", "dW", "dmu"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_threadpoolctl_limits_the_default_thread_count():
    """threadpoolctl sees resode's OpenMP runtime; a limit there sets threads=None's count."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not resode.build_info()["openmp"]:
        pytest.skip("built without OpenMP")
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert resode.build_info()["threads"] == 1
        kw = make_problem("inner", "tanh", "state", N=5000, d=3, L=4)
        assert resode.loss(**kw) == resode.loss(**kw, threads=2)  # bitwise, whatever the count
    assert resode.build_info()["threads"] >= 1
