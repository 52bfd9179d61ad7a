"""Peak-RSS rise of one loss_and_grad call, measured in a fresh subprocess."""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = """
import resource, numpy as np, resode
N, d, L = {N}, {d}, {L}
rng = np.random.default_rng(0)
X = rng.normal(size=(N, d)); Y = rng.normal(size=(N, d))
V = rng.normal(size=(L, d, d)) / np.sqrt(d); b = np.zeros((L, d))
resode.loss_and_grad(X[:10], Y[:10], V, b)        # load everything once
def rss_kb():  # current RSS from /proc, in kB
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
before = rss_kb()
peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
g = resode.loss_and_grad(X, Y, V, b, w1=0.1, w2=0.01, input_grad={input_grad})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rise = (peak - max(before, peak_before)) / 1024
out_mb = sum(a.nbytes for a in (g.dV, g.db) + ((g.dX,) if g.dX is not None else ())) / 2**20
print(f"N={{N}} d={{d}} L={{L}}: inputs {{(X.nbytes + Y.nbytes) / 2**20:.1f}} MB, "
      f"outputs {{out_mb:.1f}} MB, peak RSS rise {{max(rise, 0):.1f}} MB "
      f"(a stored trajectory would be {{(L + 1) * N * d * 8 / 2**20:.0f}} MB)")
"""


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--samples", type=int, default=2_000_000)
    p.add_argument("--dim", type=int, default=2)
    p.add_argument("--layers", type=int, default=100)
    p.add_argument("--input-grad", action="store_true")
    a = p.parse_args()
    code = CHILD.format(N=a.samples, d=a.dim, L=a.layers, input_grad=a.input_grad)
    subprocess.run([sys.executable, "-c", code], check=True)


if __name__ == "__main__":
    main()
