"""Ctrl-C stops a long kernel between layers and leaves the process usable."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys, time, numpy as np, resode
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200_000, 8))
    V = 0.1 * rng.normal(size=(4000, 8, 8)); b = np.zeros((4000, 8))
    print("start", flush=True)
    t0 = time.perf_counter()
    try:
        resode.loss_and_grad(X, X, V, b)   # many seconds of work
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted %.3f" % (time.perf_counter() - t0), flush=True)
    # still usable afterwards
    print("after", resode.forward(X[:3], V[:2], b[:2]).shape, flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_interrupts_a_long_call():
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "start"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)  # a hang fails here
    lines = out.splitlines()
    assert lines[0].startswith("interrupted"), out
    assert lines[1] == "after (3, 8)"
    assert proc.returncode == 0
