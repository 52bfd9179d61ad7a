"""Parameter sharing in time: n_layers = L layers over G = len(V) groups, layer k
(0-based) using group k // ceil(L / G)."""

from __future__ import annotations

import numpy as np
import pytest

import reference
import resode
from conftest import HEADS, fd_gradient, rel_err
from test_schemes import FORM_SCHEMES, GRADS, compare, make_ext, net_of

# (L, G): equal groups, a short last group, autonomous, one layer per group,
# and groups of 3, 3, 3, 1
SHAPES = [(6, 3), (5, 3), (7, 1), (4, 4), (10, 4)]


def groups_of(L, G):
    """Group of each layer, straight from the spec."""
    m = -(-L // G)
    assert -(-L // m) == G
    return np.arange(L) // m


def expand(kw):
    """The same network with the groups written out layer by layer."""
    g = groups_of(kw["n_layers"], len(kw["V"]))
    out = {**kw, "V": kw["V"][g], "b": kw["b"][g]}
    del out["n_layers"]
    return out, g


def sum_groups(a, g, G):
    out = np.zeros((G, *a.shape[1:]), dtype=np.float64)
    np.add.at(out, g, a)
    return out


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
@pytest.mark.parametrize(("L", "G"), SHAPES)
def test_sharing_against_reference(form, scheme, L, G):
    head = HEADS[(L + G) % 4]
    kw = make_ext(form, "tanh", head, N=5, L=1, G=G, n_layers=L, scheme=scheme, seed=L + G)
    got = compare(kw, 1e-12)
    assert got.dV.shape == kw["V"].shape and got.db.shape == kw["b"].shape


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES[::3])
@pytest.mark.parametrize(("L", "G"), SHAPES[:2])
def test_sharing_float32(form, scheme, L, G):
    kw = make_ext(
        form, "tanh", "softmax", N=5, L=1, G=G, n_layers=L, scheme=scheme, dtype=np.float32
    )
    compare(kw, 2e-5)


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
@pytest.mark.parametrize(("L", "G"), SHAPES)
@pytest.mark.parametrize("project", [None, "relu"])
def test_sharing_equals_explicit_expansion(form, scheme, L, G, project):
    """resode with n_layers against resode with the groups repeated (np.repeat where
    the groups are equal) and the per-layer gradients summed over each group."""
    kw = make_ext(
        form,
        "tanh",
        "state",
        N=5,
        L=1,
        G=G,
        n_layers=L,
        scheme=scheme,
        project=project,
        seed=3,
        w1=0.3,
    )
    full, g = expand(kw)
    if L % G == 0:
        np.testing.assert_array_equal(full["V"], np.repeat(kw["V"], L // G, axis=0))
    shared = resode.loss_and_grad(**kw, input_grad=True)
    layered = resode.loss_and_grad(**full, input_grad=True)
    assert rel_err(shared.loss, layered.loss) < 1e-14
    assert rel_err(shared.dX, layered.dX) < 1e-14
    assert rel_err(shared.dV, sum_groups(layered.dV, g, G)) < 1e-13
    assert rel_err(shared.db, sum_groups(layered.db, g, G)) < 1e-13
    traj = resode.trajectory(kw["X"], kw["V"], kw["b"], **net_of(kw))
    assert traj.shape == (L + 1, 5, 4)
    assert rel_err(traj, resode.trajectory(full["X"], full["V"], full["b"], **net_of(full))) < 1e-15
    assert rel_err(resode.forward(kw["X"], kw["V"], kw["b"], **net_of(kw)), traj[-1]) == 0


@pytest.mark.parametrize("form", ["inner", "resnet_d", "hamiltonian_hr"])
def test_sharing_changes_h(form):
    """h = T / n_layers, not T / len(V): one group run for n_layers steps differs from
    one layer, and equals the layer repeated."""
    kw = make_ext(form, N=4, L=1, G=1, n_layers=8, scheme="heun")
    out8 = resode.forward(kw["X"], kw["V"], kw["b"], **net_of(kw))
    out1 = resode.forward(kw["X"], kw["V"], kw["b"], **{**net_of(kw), "n_layers": 1})
    rep = resode.forward(
        kw["X"],
        np.repeat(kw["V"], 8, axis=0),
        np.repeat(kw["b"], 8, axis=0),
        **{k: val for k, val in net_of(kw).items() if k != "n_layers"},
    )
    assert rel_err(out8, out1) > 1e-4
    assert rel_err(out8, rep) < 1e-15


@pytest.mark.parametrize("form", ["inner", "symmetric", "resnet_d", "hamiltonian"])
def test_n_layers_none_or_len_v_is_no_sharing(form):
    kw = make_ext(form, "tanh", "linear", N=5, L=4, scheme="rk4")
    a = resode.loss_and_grad(**kw, input_grad=True)
    b = resode.loss_and_grad(**kw, input_grad=True, n_layers=4)
    b2 = resode.loss_and_grad(**kw, input_grad=True, n_layers=None)
    for name in GRADS:
        assert rel_err(getattr(b, name), getattr(a, name)) < 1e-15, name
        np.testing.assert_array_equal(getattr(b2, name), getattr(a, name))


@pytest.mark.parametrize("form", ["outer", "resnet_d", "hamiltonian"])
@pytest.mark.parametrize(("L", "G"), SHAPES)
def test_tikhonov_counts_every_layer(form, L, G):
    """(w2 h / 2) sum_k |theta_{group(k)}|^2, gradient w2 h (layers in group) theta_g:
    measured as the difference between w2 > 0 and w2 = 0, and with no samples."""
    kw = make_ext(form, "tanh", "state", N=5, L=1, G=G, n_layers=L, seed=4, w2=0.7)
    g = groups_of(L, G)
    h = kw["T"] / L
    count = np.bincount(g, minlength=G).astype(float)
    sq = np.array([np.sum(kw["V"][j] ** 2) + np.sum(kw["b"][j] ** 2) for j in range(G)])
    reg = 0.5 * kw["w2"] * h * np.sum(count * sq)
    with_reg = resode.loss_and_grad(**kw)
    without = resode.loss_and_grad(**{**kw, "w2": 0.0})
    assert rel_err(with_reg.loss - without.loss, reg) < 1e-12
    cV = count.reshape(-1, *[1] * (kw["V"].ndim - 1))
    cb = count.reshape(-1, *[1] * (kw["b"].ndim - 1))
    assert rel_err(with_reg.dV - without.dV, kw["w2"] * h * cV * kw["V"]) < 1e-12
    assert rel_err(with_reg.db - without.db, kw["w2"] * h * cb * kw["b"]) < 1e-12
    empty = {**kw, "X": kw["X"][:0], "Y": kw["Y"][:0], "sample_weight": None}
    none = resode.loss_and_grad(**empty)
    assert rel_err(none.loss, reg) < 1e-14
    assert rel_err(none.dV, kw["w2"] * h * cV * kw["V"]) < 1e-14


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES[::2])
@pytest.mark.parametrize(("L", "G"), [(5, 3), (6, 1)])
def test_sharing_tangent_jacobian_costates(form, scheme, L, G):
    """jvp (dV, db shaped like the groups), input_jacobian and costates with sharing,
    against the reference."""
    kw = make_ext(form, "tanh", "softmax", N=5, L=1, G=G, n_layers=L, scheme=scheme, seed=6)
    rng = np.random.default_rng(0)
    direction = {"d" + k: rng.normal(size=kw[k].shape) for k in "XVb"}
    net = net_of(kw)
    got = resode.jvp(kw["X"], kw["V"], kw["b"], **direction, **net)
    ref = reference.ext_jvp(kw["X"], kw["V"], kw["b"], **direction, **net)
    assert rel_err(got, ref) < 1e-12
    J = resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net, per_layer=True)
    assert J.shape == (L + 1, 5, 4, 4)
    assert rel_err(J, reference.input_jacobian(kw["X"], kw["V"], kw["b"], True, **net)) < 1e-12
    P = resode.costates(**kw)
    assert P.shape == (L + 1, 5, 4)
    assert rel_err(P, reference.loss_and_grad(**kw)["costates"]) < 1e-12


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES[1::3])
def test_sharing_finite_differences(form, scheme):
    kw = make_ext(form, "tanh", "linear", N=3, L=1, G=2, n_layers=5, scheme=scheme, seed=8)
    got = resode.loss_and_grad(**kw, input_grad=True)
    for name, key in GRADS.items():
        assert rel_err(getattr(got, name), fd_gradient(kw, key)) < 1e-6, name


@pytest.mark.parametrize("form", ["inner", "hamiltonian"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sharing_threads_bitwise(form, dtype):
    nb = resode._core.block_size(4, np.dtype(dtype))
    scheme = "verlet" if form == "hamiltonian" else "rk4"
    kw = make_ext(
        form, "tanh", "state", N=2 * nb + 5, L=1, G=3, n_layers=7, scheme=scheme, dtype=dtype
    )
    runs = []
    for t in (1, 2, 3):
        g = resode.loss_and_grad(**kw, input_grad=True, threads=t)
        runs.append([np.float64(g.loss), g.dV, g.db, g.dX])
        runs[-1].append(resode.trajectory(kw["X"], kw["V"], kw["b"], **net_of(kw), threads=t))
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            assert a.tobytes() == b.tobytes()


BAD_N_LAYERS = [
    # (G, n_layers)
    (3, 0),
    (3, -1),
    (3, 2),  # more groups than layers
    (4, 5),  # m = 2, ceil(5 / 2) = 3 groups, not 4
    (7, 10),  # m = 2, 5 groups, not 7
    (2, 3),  # fine: m = 2, groups 0, 0, 1 -- control, must NOT raise
]


@pytest.mark.parametrize(("G", "n_layers"), BAD_N_LAYERS)
def test_bad_n_layers(G, n_layers):
    kw = make_ext("inner", "tanh", "state", N=3, L=1, G=G, n_layers=n_layers, scheme="heun")
    calls = (
        lambda: resode.loss_and_grad(**kw),
        lambda: resode.loss(**kw),
        lambda: resode.forward(kw["X"], kw["V"], kw["b"], **net_of(kw)),
        lambda: resode.trajectory(kw["X"], kw["V"], kw["b"], **net_of(kw)),
        lambda: resode.costates(**kw),
        lambda: resode.jvp(kw["X"], kw["V"], kw["b"], **net_of(kw)),
        lambda: resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net_of(kw)),
    )
    ok = n_layers >= 1 and -(-n_layers // -(-n_layers // G)) == G
    assert ok == ((G, n_layers) == (2, 3))
    for call in calls:
        if ok:
            call()
        else:
            with pytest.raises(ValueError, match="n_layers"):
                call()


@pytest.mark.parametrize("n_layers", [2.5, "4", True])
def test_n_layers_must_be_an_integer(n_layers):
    kw = make_ext("inner", "tanh", "state", N=3, L=1, G=2, n_layers=n_layers)
    with pytest.raises((TypeError, ValueError), match="n_layers"):
        resode.loss_and_grad(**kw)
