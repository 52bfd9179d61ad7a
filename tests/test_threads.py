"""Results are bitwise identical for every thread count (ordered block reduction)."""

from __future__ import annotations

import numpy as np
import pytest

import resode
from conftest import FORMS, HEADS, make_problem


def _all_outputs(kw, threads):
    g = resode.loss_and_grad(**kw, input_grad=True, threads=threads)
    out = [np.float64(g.loss), g.dV, g.db, g.dX]
    out += [g.dW, g.dmu] if g.dW is not None else []
    out.append(np.float64(resode.loss(**kw, threads=threads)))
    net = {k: kw[k] for k in ("T", "form", "activation", "gamma")}
    out.append(resode.forward(kw["X"], kw["V"], kw["b"], **net, threads=threads))
    out.append(resode.trajectory(kw["X"], kw["V"], kw["b"], **net, threads=threads))
    return out


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bitwise_identical_across_thread_counts(form, head, dtype):
    d = 3
    nb = resode._core.block_size(d, np.dtype(dtype))
    for N in (3, 1001, 4 * nb + 5):  # fewer than a block, and a partial last block
        kw = make_problem(form, "tanh", head, N=N, d=d, L=6, dtype=dtype, seed=N)
        runs = [_all_outputs(kw, t) for t in (1, 2, 3, None)]
        for other in runs[1:]:
            for a, b in zip(runs[0], other, strict=True):
                assert a.tobytes() == b.tobytes()


def test_omp_num_threads_sets_the_default():
    import os
    import subprocess
    import sys

    code = "import resode; print(resode.build_info()['threads'])"
    for n in (1, 3):
        env = {**os.environ, "OMP_NUM_THREADS": str(n)}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert int(out.stdout) == (n if resode.build_info()["openmp"] else 1)


def test_passive_wait_policy_by_default_unless_the_user_chose():
    import os
    import subprocess
    import sys

    code = "import resode; print(resode.build_info()['omp_wait_policy'])"
    env = {k: val for k, val in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "PASSIVE"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "OMP_WAIT_POLICY": "active"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "active"
