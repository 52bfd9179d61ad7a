"""Memory: no growth with N, and sizes that cannot fit are refused before allocating."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import resode
from resode import _validation

CHILD = textwrap.dedent(
    """
    import resource, numpy as np, resode
    N, d, L = {N}, 2, 100
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, d)); Y = rng.normal(size=(N, d))
    V = rng.normal(size=(L, d, d)) / np.sqrt(d); b = np.zeros((L, d))
    resode.loss_and_grad(X[:10], Y[:10], V, b)  # load everything first
    with open("/proc/self/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    resode.loss_and_grad(X, Y, V, b, w1=0.1, w2=0.01)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((peak - max(rss, peak_before)) / 1024)
    """
)


def peak_rss_rise_mb(N: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(N=N)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return max(float(out.stdout), 0.0)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_peak_rss_rise_at_five_million_samples():
    """Measured 6.5 MB at N = 5,000,000, d = 2, L = 100 (a stored trajectory: 7.7 GB)."""
    rise = peak_rss_rise_mb(5_000_000)
    print(f"peak RSS rise: {rise:.1f} MB")
    assert rise < 200


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_no_sample_sized_temporaries_at_two_million_samples():
    """One (N, d) float64 array at N = 2e6 is 32 MB; the per-thread block buffers are
    about 6.5 MB whatever N is."""
    assert peak_rss_rise_mb(2_000_000) < 20


def test_a_trajectory_that_cannot_fit_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(_validation, "available_memory", lambda: 10 * 2**20)  # 10 MiB
    X, V, b = np.zeros((10_000, 4)), np.zeros((100, 4, 4)), np.zeros((100, 4))
    with pytest.raises(MemoryError, match=r"trajectory .* needs .* GiB"):
        resode.trajectory(X, V, b)
    assert resode.forward(X, V, b).shape == X.shape  # small outputs still work


def test_a_gradient_workspace_that_cannot_fit_is_refused(monkeypatch):
    # 5000 layers at d = 17 keep 5000 x 2 arrays of 17 x 240 samples (a block): 326 MB
    monkeypatch.setattr(_validation, "available_memory", lambda: 50 * 2**20)  # 50 MiB
    X, V, b = np.zeros((240, 17)), np.zeros((5000, 17, 17)), np.zeros((5000, 17))
    with pytest.raises(MemoryError, match="checkpoint_every='sqrt'"):
        resode.loss_and_grad(X, X, V, b)
    # the same problem fits with checkpoints, and loss() needs no workspace
    assert np.isfinite(resode.loss_and_grad(X, X, V, b, checkpoint_every="sqrt").loss)
    assert np.isfinite(resode.loss(X, X, V, b))
