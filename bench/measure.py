"""Interleaved timing with a watch on the CPU that other processes use.

A timed *window* runs one implementation a fixed number of times (enough calls
to last at least `min_window` seconds, because the system-wide CPU counters
tick every 10 ms). Over each window we record how much CPU other processes
used: system-wide busy time minus this process's CPU time, as a fraction of
cores x wall time. A window above `max_other_cpu` is measured again (a few
times, within a retry budget), then kept and flagged.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil


def _system_busy_seconds() -> float:
    """CPU seconds all CPUs spent on anything but idling (steal included: a neighbour VM)."""
    t = psutil.cpu_times()
    extra = ("irq", "softirq", "steal")  # Linux only
    return t.user + t.nice + t.system + sum(getattr(t, name, 0.0) for name in extra)


@dataclass(frozen=True)
class Window:
    seconds_per_call: float
    other_cpu: float  # fraction of cores x wall used by other processes


def timed_window(fn: Callable[[], object], calls: int) -> Window:
    """Run fn `calls` times; time per call and the other processes' CPU share."""
    cores = psutil.cpu_count() or 1
    busy0, own0 = _system_busy_seconds(), time.process_time()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    wall = time.perf_counter() - start
    busy1, own1 = _system_busy_seconds(), time.process_time()
    other = max(0.0, (busy1 - busy0) - (own1 - own0)) / (cores * wall)
    return Window(wall / calls, other)


@dataclass
class Timing:
    """All windows of one implementation at one size."""

    calls_per_window: int
    windows: list[Window] = field(default_factory=list)
    retries: int = 0
    flagged: int = 0  # windows kept although other processes used too much CPU

    @property
    def median(self) -> float:
        return statistics.median(w.seconds_per_call for w in self.windows)

    @property
    def max_other_cpu(self) -> float:
        return max(w.other_cpu for w in self.windows)


@dataclass
class LoadPolicy:
    """When to re-measure a window, shared by a whole run so retries stay bounded."""

    max_other_cpu: float = 0.05
    retries_per_window: int = 3
    retry_budget_s: float = math.inf  # total time the run may spend on re-measuring
    spent_s: float = 0.0

    def may_retry(self, tries: int, window: Window, calls: int) -> bool:
        return (
            window.other_cpu > self.max_other_cpu
            and tries < self.retries_per_window
            and self.spent_s + window.seconds_per_call * calls <= self.retry_budget_s
        )


def measure_window(fn, calls: int, policy: LoadPolicy, timing: Timing) -> None:
    """One window, re-measured while other processes were too busy (within the policy)."""
    window = timed_window(fn, calls)
    tries = 0
    while policy.may_retry(tries, window, calls):
        tries += 1
        policy.spent_s += window.seconds_per_call * calls
        time.sleep(0.1)  # let a burst of other work pass
        window = timed_window(fn, calls)
    timing.retries += tries
    timing.flagged += window.other_cpu > policy.max_other_cpu
    timing.windows.append(window)


def time_interleaved(
    fns: dict[str, Callable[[], object]],
    repeats: int,
    min_window: float,
    policy: LoadPolicy,
    warm_s: dict[str, float] | None = None,
) -> dict[str, Timing]:
    """Warm up every fn, then `repeats` rounds in which each runs one window.

    Interleaving the implementations round by round makes slow drift of the
    machine (clock, other load) hit all of them alike. warm_s gives the time of
    a call already made (a warm-up done by the caller) for fns that need no other.
    """
    timings = {}
    for name, fn in fns.items():
        once = (warm_s or {}).get(name)
        if once is None:
            start = time.perf_counter()
            fn()  # warm-up; it also says how many calls fill a window
            once = time.perf_counter() - start
        timings[name] = Timing(calls_per_window=max(1, math.ceil(min_window / max(once, 1e-9))))
    for _ in range(repeats):
        for name, fn in fns.items():
            measure_window(fn, timings[name].calls_per_window, policy, timings[name])
    return timings
