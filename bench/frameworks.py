"""One training step of an ODE block inside PyTorch and inside JAX: resode's block
against the same block written in the framework itself.

A step is the forward pass of the block on x (N, d), the loss 0.5 |x_{L+1} - y|^2
and its gradient with respect to x, V and b (L, d, d) and b (L, d): the work a
block does inside a larger model. Peers:

- torch: ``resode.torch.forward`` against plain torch (a loop over layers,
  autograd), eager and ``torch.compile``;
- JAX: ``resode.jax.forward`` under ``jax.jit`` against plain JAX (``lax.scan``
  over layers, ``jax.jit`` of ``jax.value_and_grad``).

Implementations are timed interleaved, round after round, after a warm-up (and
compilation); the report gives each one's median time per step over the rounds
and the ratio peer / resode.

    python bench/frameworks.py [--rounds 7] [--dtype float32] [--threads 2] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

SIZES = [(2, 100, 100_000), (16, 50, 10_000), (64, 32, 4096)]


def _torch_steps(d, L, N, dtype, threads) -> dict[str, Callable[[], object]]:
    import torch

    import resode.torch as rt

    torch.set_num_threads(threads)
    dt = getattr(torch, dtype)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, d, generator=g, dtype=dt).requires_grad_()
    y = torch.randn(N, d, generator=g, dtype=dt)
    V = (torch.randn(L, d, d, generator=g, dtype=dt) / d**0.5).requires_grad_()
    b = (0.1 * torch.randn(L, d, generator=g, dtype=dt)).requires_grad_()
    h = 1.0 / L

    def plain(x, V, b):
        for Vk, bk in zip(V.unbind(0), b.unbind(0), strict=True):
            x = x + h * torch.addmm(bk, torch.tanh(x), Vk.T)
        return x

    def ours(x, V, b):
        return rt.forward(x, V, b, threads=threads)

    torch._dynamo.reset()
    compiled = torch.compile(plain)

    def step(block):
        def run():
            loss = 0.5 * (block(x, V, b) - y).square().sum()
            return torch.autograd.grad(loss, (x, V, b))

        return run

    return {"resode.torch": step(ours), "torch eager": step(plain), "torch.compile": step(compiled)}


def _jax_steps(d, L, N, dtype, threads) -> dict[str, Callable[[], object]]:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import resode.jax as rj

    jax.config.update("jax_enable_x64", dtype == "float64")
    rng = np.random.default_rng(0)
    x, y = (jnp.asarray(rng.normal(size=(N, d)).astype(dtype)) for _ in range(2))
    V = jnp.asarray((rng.normal(size=(L, d, d)) / d**0.5).astype(dtype))
    b = jnp.asarray((0.1 * rng.normal(size=(L, d))).astype(dtype))
    h = 1.0 / L

    def plain(x, V, b):
        def layer(x, params):
            Vk, bk = params
            return x + h * (jnp.tanh(x) @ Vk.T + bk), None

        return jax.lax.scan(layer, x, (V, b))[0]

    def ours(x, V, b):
        return rj.forward(x, V, b, threads=threads)

    def step(block):
        def loss(x, V, b):
            return 0.5 * jnp.sum((block(x, V, b) - y) ** 2)

        fn = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
        return lambda: jax.block_until_ready(fn(x, V, b))

    return {"resode.jax": step(ours), "JAX scan": step(plain)}


def measure(steps: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per step; each round runs every implementation in turn."""
    calls = {}
    for name, fn in steps.items():  # warm-up (and compile), then calls per ~0.3 s
        fn()
        start = time.perf_counter()
        fn()
        calls[name] = max(1, int(0.3 / max(time.perf_counter() - start, 1e-6)))
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, fn in steps.items():
            start = time.perf_counter()
            for _ in range(calls[name]):
                fn()
            times[name].append((time.perf_counter() - start) / calls[name])
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", help="also write the report (Markdown) here")
    parser.add_argument(
        "--size", action="append", metavar="D,L,N", help="time these sizes only (repeatable)"
    )
    opts = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split(",")) for s in opts.size] if opts.size else SIZES
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import machine

    machine.pin_threads(opts.threads)  # before torch or JAX loads

    lines = [
        f"One training step (forward + backward) of an ODE block, {opts.dtype}, "
        f"{opts.threads} threads, median of {opts.rounds} interleaved rounds; "
        "ratios are peer time / resode time.",
        "",
        "| (d, L, N) | resode.torch (ms) | torch eager | torch.compile "
        "| resode.jax (ms) | JAX scan |",
        "|---|---|---|---|---|---|",
    ]
    for d, L, N in sizes:
        t = measure(_torch_steps(d, L, N, opts.dtype, opts.threads), opts.rounds)
        j = measure(_jax_steps(d, L, N, opts.dtype, opts.threads), opts.rounds)
        ours_t, ours_j = t["resode.torch"], j["resode.jax"]
        lines.append(
            f"| ({d}, {L}, {N}) | {1e3 * ours_t:.2f} | {t['torch eager'] / ours_t:.2f}x "
            f"({1e3 * t['torch eager']:.1f} ms) | {t['torch.compile'] / ours_t:.2f}x "
            f"({1e3 * t['torch.compile']:.1f} ms) | {1e3 * ours_j:.2f} | "
            f"{j['JAX scan'] / ours_j:.2f}x ({1e3 * j['JAX scan']:.1f} ms) |"
        )
        print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    if opts.out:
        with open(opts.out, "w") as f:
            f.write(report)
    sys.stdout.write(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
