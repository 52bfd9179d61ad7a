"""Per-ISA builds: level choice, RESODE_ISA, agreement between levels, and proof
that the baseline's code holds no AVX instruction (disassembly, an emulated CPU)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import resode
from resode import _isa

BUILT = tuple(resode.build_info()["isa_built"])
X86_LEVELS = [level for level in _isa.X86_64_LEVELS if level in BUILT]
SUPPORTED = _isa.cpu_levels()
RUNNABLE = [level for level in X86_LEVELS if level in SUPPORTED]
TESTS = Path(__file__).parent


def _run(code: str, isa: str | None, *, executable=(sys.executable,), timeout=600):
    env = {k: v for k, v in os.environ.items() if k != "RESODE_ISA"}
    if isa is not None:
        env["RESODE_ISA"] = isa
    return subprocess.run(
        [*executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_build_info_reports_the_level_in_use_and_the_levels_built():
    info = resode.build_info()
    assert info["isa"] in info["isa_built"]
    assert set(BUILT) <= {*_isa.X86_64_LEVELS, *_isa.SINGLE_BUILDS}
    # without RESODE_ISA, the best level that this CPU supports is loaded
    if "RESODE_ISA" not in os.environ and X86_LEVELS and set(BUILT) == set(X86_LEVELS):
        assert info["isa"] == RUNNABLE[-1]


def test_choice_of_level():
    levels = _isa.X86_64_LEVELS
    assert _isa.choose(None, levels, levels[:2]) == "x86-64-v3"
    assert _isa.choose(None, levels, levels) == "x86-64-v4"
    assert _isa.choose("x86-64-v2", levels, levels) == "x86-64-v2"
    assert _isa.choose(None, ("native",), ()) == "native"
    assert _isa.choose(None, ("generic",), ()) == "generic"


@pytest.mark.parametrize(
    ("requested", "built", "supported", "message"),
    [
        ("avx9000", _isa.X86_64_LEVELS, _isa.X86_64_LEVELS, "is not a level: use one of x86-64-v2"),
        (
            "x86-64-v4",
            _isa.X86_64_LEVELS,
            _isa.X86_64_LEVELS[:2],
            "it supports: x86-64-v2, x86-64-v3",
        ),
        (
            "x86-64-v3",
            ("x86-64-v2",),
            _isa.X86_64_LEVELS,
            "not in this build of resode (built: x86-64-v2)",
        ),
        (None, _isa.X86_64_LEVELS, (), "supports none of the built levels"),
        (None, (), _isa.X86_64_LEVELS, "no kernel module is installed"),
    ],
)
def test_a_level_that_cannot_be_used_is_a_one_line_import_error(
    requested, built, supported, message
):
    with pytest.raises(ImportError, match=re.escape(message)) as info:
        _isa.choose(requested, built, supported)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value", ["x86-64-v9", "AVX2"])
def test_unknown_resode_isa_fails_the_import_with_one_line(value):
    out = _run("import resode", value)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: RESODE_ISA=") and "is not a level" in last


def test_a_damaged_level_module_is_a_one_line_import_error(tmp_path):
    package = Path(resode.__file__).parent
    copy = tmp_path / "resode"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    level = resode.build_info()["isa"]
    spec = importlib.util.find_spec(_isa.module_name(level))
    damaged = copy / Path(spec.origin).name
    damaged.write_bytes(damaged.read_bytes()[:4096])  # truncated, as a broken download
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "RESODE_ISA": level}
    out = subprocess.run(
        [sys.executable, "-c", "import resode"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 1, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ImportError: resode: the {level} kernels")
    assert "damaged: truncated (4096 of" in last


# Every level computes the same loss and gradients within rounding (float64), and
# each is bitwise independent of the thread count.
_AGREEMENT = """
import json, sys
import numpy as np
import resode
sys.path.insert(0, {tests!r})
from conftest import make_problem
from reference import param_shapes

out = {{"isa": resode.build_info()["isa"], "results": {{}}}}
cases = [(f, s, h) for f in ("inner", "outer", "symmetric", "antisymmetric", "resnet_d")
         for s in ("euler", "rk4") for h in ("state", "softmax")]
cases += [(f, s, "linear") for f in ("hamiltonian", "hamiltonian_hr") for s in ("verlet", "heun")]
for form, scheme, head in cases:
    kw = make_problem("inner", "tanh", head, N=300, d=4, L=6, seed=3)
    kw["form"], kw["scheme"] = form, scheme
    v_shape, b_shape = param_shapes(form, 4)
    rng = np.random.default_rng(5)
    kw["V"], kw["b"] = 0.4 * rng.normal(size=(6, *v_shape)), 0.2 * rng.normal(size=(6, *b_shape))
    one = resode.loss_and_grad(**kw, threads=1, input_grad=True)
    two = resode.loss_and_grad(**kw, threads=2, input_grad=True)
    heads = ["dW", "dmu"] if one.dW is not None else []
    arrays = [np.array([one.loss])] + [getattr(one, k) for k in ["dV", "db", "dX", *heads]]
    again = [np.array([two.loss])] + [getattr(two, k) for k in ["dV", "db", "dX", *heads]]
    bitwise = all(np.array_equal(a, b) for a, b in zip(arrays, again))
    out["results"][f"{{form}}/{{scheme}}/{{head}}"] = {{
        "bitwise": bitwise, "values": [a.ravel().tolist() for a in arrays]}}
print(json.dumps(out))
"""


def _agreement(level):
    out = _run(_AGREEMENT.format(tests=str(TESTS)), level)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(len(RUNNABLE) < 2, reason="needs two ISA levels that this CPU runs")
def test_levels_agree_to_rounding_and_each_is_thread_count_independent():
    runs = {level: _agreement(level) for level in RUNNABLE}
    for level, run in runs.items():
        assert run["isa"] == level
        for case, result in run["results"].items():
            assert result["bitwise"], f"{level} {case}: threads=1 and threads=2 differ"
    base = runs[RUNNABLE[0]]["results"]
    for level in RUNNABLE[1:]:
        for case, result in runs[level]["results"].items():
            for ref, got in zip(base[case]["values"], result["values"], strict=True):
                np.testing.assert_allclose(
                    got, ref, rtol=1e-12, atol=1e-13, err_msg=f"{level} {case}"
                )


@pytest.mark.parametrize("level", RUNNABLE or ["none"])
def test_gradient_tests_pass_under_each_level(level):
    if level == "none":
        pytest.skip("no x86-64 level built")
    args = [
        "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
        str(TESTS / "test_gradients_fd.py"), str(TESTS / "test_reference.py"),
    ]  # fmt: skip
    env = {**os.environ, "RESODE_ISA": level}
    out = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, cwd=TESTS
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def _disassembly(level):
    spec = importlib.util.find_spec(_isa.module_name(level))
    out = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", spec.origin], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs objdump (binutils)")
@pytest.mark.skipif("x86-64-v2" not in BUILT, reason="no x86-64-v2 build")
def test_the_baseline_holds_no_avx_register():
    code = _disassembly("x86-64-v2")
    assert re.search(r"%xmm", code), "expected SSE code in the baseline"
    wide = [line for line in code.splitlines() if re.search(r"%[yz]mm", line)]
    assert not wide, f"{len(wide)} instructions use ymm/zmm registers, e.g. {wide[:3]}"


@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs objdump (binutils)")
@pytest.mark.skipif(not {"x86-64-v3", "x86-64-v4"} <= set(BUILT), reason="no v3/v4 build")
def test_the_higher_levels_use_their_vectors():
    v3, v4 = _disassembly("x86-64-v3"), _disassembly("x86-64-v4")
    assert re.search(r"%ymm", v3) and not re.search(r"%zmm", v3)
    assert re.search(r"%zmm", v4)


QEMU = shutil.which("qemu-x86_64")
_CORE_UNDER_QEMU = """
import numpy as np
import resode
from resode import datasets
assert resode.build_info()["isa"] == "x86-64-v2", resode.build_info()["isa"]
rng = np.random.default_rng(0)
X, Y = rng.normal(size=(64, 3)), rng.normal(size=(64, 3))
V, b = 0.5 * rng.normal(size=(5, 3, 3)), 0.1 * rng.normal(size=(5, 3))
for dtype in (np.float64, np.float32):
    kw = dict(X=X, Y=Y, V=V, b=b)
    kw = {k: v.astype(dtype) for k, v in kw.items()} | dict(w1=0.1, w2=1e-3)
    g = resode.loss_and_grad(**kw)
    step = 1e-6 if dtype == np.float64 else 1e-2
    for idx in [(0, 0, 1), (4, 2, 2)]:
        Vp, Vm = kw["V"].copy(), kw["V"].copy()
        Vp[idx] += step
        Vm[idx] -= step
        fd = (resode.loss(**{**kw, "V": Vp}) - resode.loss(**{**kw, "V": Vm})) / (2 * step)
        tol = 1e-6 if dtype == np.float64 else 2e-2
        assert abs(fd - g.dV[idx]) <= tol * (1 + abs(fd)), (fd, g.dV[idx])
model = resode.ResNetODE(dim=2, n_layers=8, head="softmax", n_classes=2, seed=0)
Xc, yc = datasets.moons(200, seed=0)
model.fit(Xc, yc, optimizer="adam", lr=0.05, epochs=5, seed=0, progress=False)
print("ok", resode.build_info()["isa"])
"""


@pytest.mark.skipif(QEMU is None, reason="needs qemu-user (Debian: qemu-user)")
@pytest.mark.skipif("x86-64-v2" not in BUILT, reason="no x86-64-v2 build")
def test_core_cases_run_on_an_emulated_cpu_without_avx():
    # Nehalem: SSE4.2 and POPCNT, no AVX. Any AVX instruction reached would be SIGILL.
    out = _run(_CORE_UNDER_QEMU, None, executable=(QEMU, "-cpu", "Nehalem", sys.executable))
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["ok", "x86-64-v2"]
    # and asking that CPU for AVX2 says which levels it has
    out = _run("import resode", "x86-64-v3", executable=(QEMU, "-cpu", "Nehalem", sys.executable))
    assert out.returncode == 1
    assert (
        "this CPU does not support it (it supports: x86-64-v2)"
        in out.stderr.strip().splitlines()[-1]
    )
