"""The training loop: optimisers, schedules, history, callbacks, errors, interruption."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import resode
from resode import EarlyStopping, ResNetODE, datasets
from resode.optim import SGD, Adam, Cosine, StepDecay


def _classifier(**kw):
    return ResNetODE(3, 10, T=3.0, head="softmax", n_classes=2, init_scale=0.5, seed=0, **kw)


@pytest.mark.parametrize("optimizer", ["gd", "sgd", "adam", "lbfgs"])
def test_every_optimiser_decreases_the_loss(optimizer):
    X, y = datasets.moons(200, seed=0)
    m = _classifier()
    h = m.fit(X, y, optimizer=optimizer, epochs=40, seed=0, progress=False)
    assert len(h) >= 1 and h.loss[-1] < 0.8 * h.loss[0]
    assert len(h.loss) == len(h.accuracy) == len(h.time) == len(h.epoch)


def test_gradient_descent_decreases_J_monotonically_on_the_lecture_example():
    X, labels = datasets.lecture(200, seed=0)
    Y = datasets.lecture_targets(labels)
    m = ResNetODE(2, 20, T=5.0, w1=0.01, w2=1e-3, init_scale=0.5, seed=0)
    h = m.fit(X, Y, optimizer="gd", lr=0.2, epochs=150, progress=False)
    assert np.all(np.diff(h.loss) < 0)
    # the history's loss is the mean cost J/N (docs/mathematics.md)
    n = len(X)
    J = resode.loss(X, Y, m.V, m.b, T=5.0, w1=0.01, w2=1e-3)
    assert h.loss[-1] == pytest.approx(J / n, rel=1e-12)


def test_ring_data_is_separated_with_an_augmented_dimension():
    X, y = datasets.rings(600, seed=0)
    m = ResNetODE(3, 20, T=3.0, head="softmax", n_classes=2, init_scale=0.5, seed=0)
    h = m.fit(X, y, optimizer="adam", epochs=150, seed=0, progress=False)
    assert h.accuracy[-1] >= 0.99
    assert m.accuracy(X, y) >= 0.99


def test_two_moons_are_separated_in_two_dimensions():
    X, y = datasets.moons(600, seed=0)
    m = ResNetODE(2, 20, T=3.0, head="softmax", n_classes=2, init_scale=0.5, seed=0)
    m.fit(X, y, optimizer="adam", epochs=150, seed=0, progress=False)
    assert m.accuracy(X, y) >= 0.99


def test_results_are_reproducible_for_a_seed():
    X, y = datasets.spirals(300, seed=0)
    runs = [
        _classifier().fit(X, y, optimizer="sgd", epochs=5, seed=7, progress=False) for _ in range(2)
    ]
    assert runs[0].loss == runs[1].loss
    other = _classifier().fit(X, y, optimizer="sgd", epochs=5, seed=8, progress=False)
    assert other.loss != runs[0].loss


def test_minibatch_estimates_the_mean_cost():
    """One SGD step without momentum moves theta by lr * (gradient of J_B)."""
    X, y = datasets.circles(64, seed=0)
    m = _classifier(w2=0.5, w_head=0.3)
    before = {k: a.copy() for k, a in m.parameters().items()}
    m.fit(
        X,
        y,
        optimizer=SGD(momentum=0.0),
        lr=0.1,
        epochs=1,
        batch_size=64,
        shuffle=False,
        progress=False,
    )
    Xp = m.prepare_inputs(X)
    g = resode.loss_and_grad(
        Xp,
        y,
        before["V"],
        before["b"],
        T=3.0,
        head="softmax",
        W=before["W"],
        mu=before["mu"],
        w2=0.5,
        w_head=0.3,
    )
    np.testing.assert_allclose(m.V, before["V"] - 0.1 * g.dV / 64, rtol=1e-12, atol=1e-15)


def test_schedules():
    s = StepDecay(1.0, milestones=[10, 20], factor=0.5)
    assert [s(0), s(9), s(10), s(25)] == [1.0, 1.0, 0.5, 0.25]
    c = Cosine(1.0, epochs=10, min_lr=0.1)
    assert (
        c(0) == pytest.approx(1.0) and c(10) == pytest.approx(0.1) and c(5) == pytest.approx(0.55)
    )
    X, y = datasets.moons(100, seed=0)
    h = _classifier().fit(X, y, lr=StepDecay(0.01, [2]), epochs=4, progress=False)
    assert h.lr == [0.01, 0.01, 0.001, 0.001]


def test_validation_callbacks_and_early_stopping():
    X, y = datasets.moons(200, seed=0)
    Xv, yv = datasets.moons(100, seed=1)
    seen = []
    h = _classifier().fit(
        X,
        y,
        validation_data=(Xv, yv),
        epochs=30,
        progress=False,
        callbacks=[lambda e, logs, m: seen.append(e) or e == 4],
    )
    assert seen == [0, 1, 2, 3, 4] and h.stop_reason == "callback" and len(h.val_accuracy) == 5
    stopper = EarlyStopping("val_loss", patience=3, min_delta=1e9)  # nothing counts as progress
    m = _classifier()
    h = m.fit(X, y, validation_data=(Xv, yv), epochs=50, early_stopping=stopper, progress=False)
    assert h.stop_reason == "early_stopping" and len(h) == 4
    # the best (first) epoch's parameters are restored: validation loss as after epoch 0
    np.testing.assert_array_equal(m.V, stopper.best_params["V"])
    Xv_pad = m.prepare_inputs(Xv)
    val = resode.loss(Xv_pad, yv, m.V, m.b, T=m.T, head="softmax", W=m.W, mu=m.mu)
    assert val / len(Xv) == pytest.approx(h.val_loss[0], rel=1e-12)


def test_non_finite_loss_restores_the_last_finite_parameters():
    X, y = datasets.moons(100, seed=0)
    m = _classifier()
    start = m.V.copy()
    with pytest.raises(resode.NonFiniteError):
        m.fit(X, y, optimizer="gd", lr=1e300, epochs=5, progress=False)
    # the first step overflowed, so the initial parameters are put back
    np.testing.assert_array_equal(m.V, start)
    assert np.isfinite(m.loss(X, y))


def test_keyboard_interrupt_stops_cleanly():
    X, y = datasets.moons(100, seed=0)

    def interrupt(epoch, logs, model):
        if epoch == 2:
            raise KeyboardInterrupt

    m = _classifier()
    with pytest.warns(RuntimeWarning, match="interrupted"):
        h = m.fit(X, y, epochs=10, callbacks=[interrupt], progress=False)
    assert h.stop_reason == "interrupted" and len(h) == 3
    assert np.isfinite(m.predict_proba(X)).all()  # still usable


def test_adam_state_is_reset_between_fits():
    opt = Adam()
    X, y = datasets.moons(50, seed=0)
    _classifier().fit(X, y, optimizer=opt, epochs=2, progress=False)
    assert opt.t == 2
    _classifier().fit(X, y, optimizer=opt, epochs=1, progress=False)
    assert opt.t == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_steps_equal_torch_adam(dtype):
    # torch.optim.Adam is an independent implementation of the same rule; it divides
    # sqrt(v) by sqrt(c2) where resode takes sqrt(v / c2): equal to rounding
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    shapes = {"V": (3, 4, 4), "b": (3, 4), "W": (2, 4)}
    params = {k: rng.normal(size=s).astype(dtype) for k, s in shapes.items()}
    mine = {k: a.copy() for k, a in params.items()}
    theirs = [torch.tensor(a, requires_grad=True) for a in params.values()]
    opt, ref = (
        Adam(beta1=0.8, beta2=0.99, eps=1e-6),
        torch.optim.Adam(theirs, lr=0.05, betas=(0.8, 0.99), eps=1e-6),
    )
    opt.reset(mine)
    for _ in range(5):
        grads = {k: rng.normal(size=s).astype(dtype) for k, s in shapes.items()}
        opt.step(mine, grads, 0.05)
        for t, g in zip(theirs, grads.values(), strict=True):
            t.grad = torch.tensor(g)
        ref.step()
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for (k, a), t in zip(mine.items(), theirs, strict=True):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=tol, atol=tol, err_msg=k)
    assert opt.t == 5


def test_adam_step_refuses_bad_arrays():
    from resode import _core

    theta, g, m, v = np.zeros(3), np.ones(3), np.zeros(3), np.zeros(3)
    with pytest.raises(TypeError, match="params"):
        _core.adam_step([[0.0, 0.0, 0.0]], [g], m, v, 0.1, 0.9, 0.999, 1e-8, 1)
    with pytest.raises(ValueError, match="grads must have shape"):
        _core.adam_step([theta], [np.ones(4)], m, v, 0.1, 0.9, 0.999, 1e-8, 1)
    with pytest.raises(ValueError, match="m and v"):
        _core.adam_step([theta], [g], np.zeros(2), v, 0.1, 0.9, 0.999, 1e-8, 1)
    frozen = theta.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        _core.adam_step([frozen], [g], m, v, 0.1, 0.9, 0.999, 1e-8, 1)
    with pytest.raises(TypeError, match="dtype"):
        _core.adam_step([theta.astype(np.float32)], [g], m, v, 0.1, 0.9, 0.999, 1e-8, 1)
    with pytest.raises(ValueError, match="same length"):
        _core.adam_step([theta], [], m, v, 0.1, 0.9, 0.999, 1e-8, 1)
    with pytest.raises(ValueError, match="t must"):
        _core.adam_step([theta], [g], m, v, 0.1, 0.9, 0.999, 1e-8, 0)


def test_bad_training_arguments():
    X, y = datasets.moons(20, seed=0)
    m = _classifier()
    with pytest.raises(ValueError, match="optimizer"):
        m.fit(X, y, optimizer="rmsprop")
    with pytest.raises(ValueError, match="batch_size"):
        m.fit(X, y, batch_size=0)
    with pytest.raises(ValueError, match="epochs"):
        m.fit(X, y, epochs=-1)
    with pytest.raises(ValueError, match="Y"):
        m.fit(X, y + 5)
    with pytest.raises(ValueError, match="lr"):
        m.fit(X, y, lr=-1.0)


def test_weighted_validation_is_the_weighted_mean():
    X, y = datasets.moons(60, seed=0)
    Xv, yv = datasets.moons(10, seed=1)
    counts = np.array([0, 1, 2, 3, 1, 1, 2, 0, 1, 1])
    m = _classifier()
    weighted = m.copy().fit(X, y, validation_data=(Xv, yv, counts), epochs=2, progress=False)
    repeated = m.copy().fit(
        X,
        y,
        validation_data=(np.repeat(Xv, counts, axis=0), np.repeat(yv, counts)),
        epochs=2,
        progress=False,
    )
    np.testing.assert_allclose(weighted.val_loss, repeated.val_loss, rtol=1e-12)
    with pytest.raises(ValueError, match="sample_weight"):
        m.fit(X, y, validation_data=(Xv, yv, np.ones(3)), epochs=1, progress=False)


@pytest.mark.parametrize("optimizer", ["gd", "adam", "lbfgs"])
def test_resnet_d_projection_keeps_A_nonnegative(optimizer):
    """ResNet-D's constraint A >= 0 holds after every step; without the projection the
    same training drives entries of A negative (so the check can fail)."""
    from resode.datasets import moons

    X, y = moons(120, seed=0)

    def train(model, **kw):
        seen = []
        record = lambda epoch, logs, m: seen.append(m.V[:, 1].min())  # noqa: E731
        kw = dict(optimizer=optimizer, epochs=15, lr=None, progress=False, **kw)
        if optimizer != "lbfgs":
            kw["callbacks"] = [record]
        model.fit(X, y, **kw)
        return model, seen

    def make():
        return resode.ResNetODE(
            3, 6, form="resnet_d", head="softmax", n_classes=2, seed=1, init_scale=1.0
        )

    model, seen = train(make())
    assert model.V[:, 1].min() >= 0 and all(a >= 0 for a in seen)

    class Unconstrained(resode.ResNetODE):
        def project_parameters(self):
            return self

    free = make()
    free.__class__ = Unconstrained
    if optimizer == "lbfgs":  # L-BFGS-B gets bounds from the form: unconstrained = GD here
        return
    free, _ = train(free)
    assert free.V[:, 1].min() < 0


def test_projection_hook_runs_after_every_step():
    X, y = np.random.default_rng(0).normal(size=(40, 2)), np.arange(40) % 2
    model = resode.ResNetODE(2, 4, head="softmax", n_classes=2, seed=0)
    calls = []
    model.fit(X, y, optimizer="sgd", epochs=3, batch_size=10, progress=False,
              projection=lambda m: calls.append(m.V.copy()))  # fmt: skip
    assert len(calls) == 12  # 4 mini-batches x 3 epochs
    with pytest.raises(TypeError, match="projection"):
        model.fit(X, y, epochs=1, projection=3)
    with pytest.raises(ValueError, match="projection"):
        model.fit(X, y, optimizer="lbfgs", epochs=1, projection=lambda m: None)


def test_epoch_loss_from_the_batches_is_the_loss_before_each_step():
    """Full batch: the 'batches' loss of epoch k is J/N before its step, which is the
    'full' loss of epoch k - 1 (loss and loss_and_grad agree bitwise)."""
    X, y = datasets.moons(300, seed=0)

    def run(epoch_loss):
        m = ResNetODE(2, 4, head="softmax", n_classes=2, w2=1e-3, seed=1, init_scale=0.5)
        initial = m.loss(X, y) / len(X) + 0.0
        kw = dict(optimizer="adam", epochs=6, batch_size=len(X), progress=False)
        return initial, m.fit(X, y, epoch_loss=epoch_loss, **kw)

    initial, full = run("full")
    _, batches = run("batches")
    assert batches.loss[1:] == full.loss[:-1]
    assert batches.loss[0] == pytest.approx(initial, rel=1e-12)
    assert batches.accuracy == [] and len(full.accuracy) == 6
    with pytest.raises(ValueError, match="epoch_loss"):
        run("sometimes")


def test_resume_goes_on_with_the_optimiser_state():
    X, y = datasets.moons(200, seed=0)
    kw = dict(batch_size=len(X), progress=False)

    def model():
        return ResNetODE(2, 3, head="softmax", n_classes=2, seed=2, init_scale=0.5)

    once = model()
    once.fit(X, y, optimizer=Adam(), epochs=4, **kw)
    twice, adam = model(), Adam()
    twice.fit(X, y, optimizer=adam, epochs=2, **kw)
    twice.fit(X, y, optimizer=adam, epochs=2, resume=True, **kw)
    np.testing.assert_array_equal(twice.V, once.V)
    restarted, adam = model(), Adam()
    restarted.fit(X, y, optimizer=adam, epochs=2, **kw)
    restarted.fit(X, y, optimizer=adam, epochs=2, **kw)
    assert not np.array_equal(restarted.V, once.V)


def test_plateaus_reduce_the_learning_rate_before_stopping():
    stopper = EarlyStopping("loss", patience=2, lr_reductions=2, lr_factor=0.5)
    model = ResNetODE(2, 2)
    decisions, scales = [], []
    for epoch in range(12):
        decisions.append(stopper(epoch, {"loss": 1.0}, model))  # never improves
        scales.append(stopper.lr_scale)
    # best at epoch 0; plateaus end epochs 2, 4 (reductions) and 6 (stop)
    assert decisions[:7] == [False] * 6 + [True]
    assert scales[:7] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.25]
    with pytest.raises(ValueError, match="lr_factor"):
        EarlyStopping(lr_factor=1.5)

    X, y = datasets.moons(100, seed=0)
    m = ResNetODE(2, 2, head="softmax", n_classes=2, seed=0)
    stall = EarlyStopping("loss", patience=1, min_delta=1e9, lr_reductions=1)  # every epoch
    h = m.fit(X, y, lr=0.02, epochs=10, early_stopping=stall, progress=False)
    # epoch 0 is the best; the plateau seen after epoch 1 reduces, that after epoch 2 stops
    assert h.lr == pytest.approx([0.02, 0.02, 0.002]) and h.stop_reason == "early_stopping"


@pytest.mark.parametrize("optimizer", [Adam, SGD])
def test_resume_with_a_fresh_optimiser_starts_afresh(optimizer):
    X, y = datasets.moons(100, seed=0)

    def run(resume):
        m = ResNetODE(2, 3, head="softmax", n_classes=2, seed=2, init_scale=0.5)
        m.fit(X, y, optimizer=optimizer(), epochs=2, resume=resume, progress=False, seed=0)
        return m.V

    np.testing.assert_array_equal(run(True), run(False))


@pytest.mark.parametrize(("form", "stuck"), [("symmetric", True), ("inner", False)])
def test_fit_warns_of_a_zero_initial_gradient(form, stuck):
    # the check looks at the first rows and confirms on all: 300 rows cover both
    X = np.random.default_rng(0).normal(size=(300, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the constructor's own warning
        m = ResNetODE(3, 4, form=form, init="zeros")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.fit(X, X + 1.0, epochs=1, progress=False)
    warned = [w for w in caught if issubclass(w.category, resode.ZeroGradientWarning)]
    assert bool(warned) == stuck
