// The three sweeps, written once for every form: the forward Euler sweep
// x_{k+1} = x_k + h f_k(x_k), the backward adjoint sweep
// p_k = p_{k+1} + h (df_k/dx)^T p_{k+1} (+ running term), and the accumulation
// of parameter gradients over samples (DESIGN.md section 1). A form is a type
// with step() and adjoint(); the activation and head are chosen per block.
#pragma once

#include "resode/cost.hpp"
#include "resode/forms/antisymmetric.hpp"
#include "resode/forms/inner.hpp"
#include "resode/forms/outer.hpp"
#include "resode/forms/symmetric.hpp"
#include "resode/parallel.hpp"

#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace resode {

// The layers as a form sees them, with derived matrices computed once per call.
template <class Form, class T>
class Layers {
public:
    explicit Layers(const Network<T>& net) : net_(net) {
        if constexpr (Form::kDerivedMatrix) {
            const Index dd = net.d * net.d;
            derived_.resize(static_cast<std::size_t>(net.L * dd));
            for (Index k = 0; k < net.L; ++k)
                Form::derived_matrix(net.V_k(k), net.gamma, RowMap<T>(derived_.data() + k * dd, net.d, net.d));
        }
    }
    Layer<T> operator[](Index k) const {
        const T* A = Form::kDerivedMatrix ? derived_.data() + k * net_.d * net_.d : net_.V + k * net_.d * net_.d;
        return Layer<T>{CRowMap<T>(A, net_.d, net_.d), net_.b_k(k)};
    }

private:
    const Network<T>& net_;
    std::vector<T> derived_;
};

// Where a block first overflowed: the smallest layer and the number of samples.
struct Overflow {
    Index layer = std::numeric_limits<Index>::max();
    Index samples = 0;
    void merge(const Overflow& o) {
        layer = std::min(layer, o.layer);
        samples += o.samples;
    }
    bool any() const { return samples > 0; }
};

template <class T>
Index nonfinite_columns(CMatMap<T> x) {
    return (!x.array().isFinite()).colwise().any().count();
}

// Recomputes a block's forward sweep in place in `buf` to find the first layer
// whose step produced a non-finite state. Only runs after an overflow.
template <class Form, class T>
Overflow locate_overflow(const Network<T>& net, const Layers<Form, T>& layers, CMatMap<T> x0, MatMap<T> buf,
                         Scratch<T>& ws) {
    Overflow o;
    buf = x0;
    for (Index k = 0; k < net.L; ++k) {
        Form::step(layers[k], net.activation, as_const(buf), buf, net.h, ws);
        if (!buf.allFinite()) {
            o.layer = std::min(o.layer, k);
            break;
        }
    }
    // a non-finite component stays non-finite: x + h f is inf or NaN
    for (Index k = o.layer < net.L ? o.layer + 1 : net.L; k < net.L; ++k)
        Form::step(layers[k], net.activation, as_const(buf), buf, net.h, ws);
    o.samples = nonfinite_columns(as_const(buf));
    return o;
}

inline std::string overflow_message(const Overflow& o, Index N) {
    return "non-finite state after layer " + std::to_string(o.layer) + " (0-based) in " +
           std::to_string(o.samples) + " of " + std::to_string(N) + " samples";
}

// forward (out is (N, d)) or trajectory (out is (L+1, N, d)).
template <class Form, class T>
void forward_sweep(const Network<T>& net, const T* X, Index N, T* out, bool trajectory, const RunOptions& opt) {
    const Index d = net.d, L = net.L;
    const Layers<Form, T> layers(net);
    const BlockRange blocks{N, block_size(d, sizeof(T))};
    Overflow overflow;
    struct Workspace {
        Scratch<T> scratch;
        Overflow overflow;
    };
    auto make = [&] { return Workspace{Scratch<T>(d, blocks.capacity()), {}}; };
    auto body = [&](Index blk, Workspace& w, StopToken& stop) {
        const Index n = blocks.cols(blk), start = blocks.start(blk);
        w.scratch.set_cols(n);
        w.overflow = Overflow{};
        const CMatMap<T> x0(X + start * d, d, n);
        // x_k of the block: its slab of the trajectory, or (forward) the
        // block of `out`, updated in place
        auto slab = [&](Index k) { return MatMap<T>(out + (trajectory ? k * N * d : 0) + start * d, d, n); };
        slab(0) = x0;
        for (Index k = 0; k < L; ++k) {
            Form::step(layers[k], net.activation, as_const(slab(k)), slab(k + 1), net.h, w.scratch);
            if (stop.poll()) return;
        }
        if (!slab(L).allFinite()) w.overflow = locate_overflow(net, layers, x0, slab(L), w.scratch);
    };
    auto reduce = [&](Index, Workspace& w) { overflow.merge(w.overflow); };
    ordered_blocks(blocks.count(), opt, make, body, reduce);
    if (overflow.any()) throw NonFinite(overflow.layer, overflow.samples, "forward", overflow_message(overflow, N));
}

// J (DESIGN.md section 1) and, when grads is given, its gradients.
//
// With checkpoint_every = c in [1, L), the gradient sweep keeps only every c-th
// state of a block in the forward pass and recomputes each segment of c layers
// (with the forms' caches) just before its adjoint, so that a block needs
// about L / c + 2c states instead of L: c ~ sqrt(L) makes it O(sqrt(L)). The
// recomputation repeats the same operations, so the results are bitwise the same.
template <class Form, class T>
double cost_sweep(const Network<T>& net, const Cost<T>& cost, const T* X, Index N, const Gradients<T>* grads,
                  const RunOptions& opt, Index checkpoint_every = 0) {
    const Index d = net.d, L = net.L, m = cost.m, dd = d * d;
    const bool want_grad = grads != nullptr;
    // layers per segment of the backward sweep; fewer than L means recomputing
    const Index seg = want_grad && checkpoint_every > 0 ? std::min(checkpoint_every, L) : L;
    const bool recompute = seg < L;
    const Index n_segments = (L + seg - 1) / seg;
    const bool has_head_params = cost.head != Head::State;
    const bool tracking = cost.w1 > 0;
    const T h = net.h, w1h = T(cost.w1) * net.h;
    const Layers<Form, T> layers(net);
    const BlockRange blocks{N, block_size(d, sizeof(T))};

    struct Workspace {
        Scratch<T> scratch;
        HeadScratch<T> head;
        Mat<T> states;       // gradient: the states x_{k0+1}..x_{k0+seg} of a segment; loss: one
        Mat<T> checkpoints;  // recomputing: slot s holds x_{s seg} (s = 1..n_segments-1), the
                             // last slot the running state of the forward sweep
        Mat<T> cache;        // gradient: what each layer's step keeps for its adjoint
        Mat<T> p;
        Vec<T> gV, gb, gW, gmu;  // the block's gradient contributions
        double loss = 0;
        Overflow overflow;
    };
    auto make = [&] {
        const Index cols = blocks.capacity();
        Workspace w{Scratch<T>(d, cols), HeadScratch<T>(std::max(m, d), cols)};
        w.states.resize(d, (want_grad ? seg : 1) * cols);
        if (recompute) w.checkpoints.resize(d, (n_segments + 1) * cols);
        if (want_grad) {
            w.cache.resize(d, seg * Form::kCached * cols);
            w.p.resize(d, cols);
            w.gV.resize(L * dd);
            w.gb.resize(L * d);
            if (has_head_params) {
                w.gW.resize(m * d);
                w.gmu.resize(m);
            }
        }
        return w;
    };

    std::vector<double> acc_V(want_grad ? L * dd : 0), acc_b(want_grad ? L * d : 0);
    std::vector<double> acc_W(want_grad && has_head_params ? m * d : 0), acc_mu(want_grad && has_head_params ? m : 0);
    double loss = 0;
    Overflow overflow;

    auto body = [&](Index blk, Workspace& w, StopToken& stop) {
        const Index n = blocks.cols(blk), start = blocks.start(blk);
        w.scratch.set_cols(n);
        w.loss = 0;
        w.overflow = Overflow{};
        const SampleSlice<T> slice{cost, start, n};
        const CMatMap<T> x0(X + start * d, d, n);
        // Slabs sit at multiples of the workspace's columns (a multiple of 64 bytes), not of
        // this block's n columns: Eigen picks alignment-dependent code paths that
        // round differently, and a state must be computed alike wherever it lives
        // (so that checkpointing is bitwise neutral).
        const Index stride = d * blocks.capacity();
        auto slab = [&](Mat<T>& buf, Index i) { return MatMap<T>(buf.data() + i * stride, d, n); };
        // layer k's cache slot within its segment: Form::kCached arrays of d x n
        auto cache = [&](Index k) {
            return want_grad ? w.cache.data() + (k % seg) * Form::kCached * stride : nullptr;
        };
        // x_k for k in a segment [k0, k0 + seg]: its start (the input, or a
        // checkpoint) for k = k0, then the segment's slabs of w.states
        auto segment_state = [&](Index k0, Index k) -> MatMap<T> {
            if (k > k0) return slab(w.states, k - k0 - 1);
            if (k == 0) return MatMap<T>(const_cast<T*>(x0.data()), d, n);  // read only
            return slab(w.checkpoints, k0 / seg);
        };

        // Forward sweep. Stored: every state (gradient), the checkpoints
        // (recomputing), or nothing but the current state (loss only).
        const bool keep_all = want_grad && !recompute;
        Mat<T>& running_buf = recompute ? w.checkpoints : w.states;
        const Index last = recompute ? n_segments : 0;  // the slot of the running state
        auto forward_state = [&](Index k) -> MatMap<T> {
            if (keep_all) return segment_state(0, k);
            if (k == 0) return MatMap<T>(const_cast<T*>(x0.data()), d, n);
            return slab(running_buf, last);
        };
        double running = 0;
        for (Index k = 0; k < L; ++k) {
            Form::step(layers[k], net.activation, as_const(forward_state(k)), forward_state(k + 1), h, w.scratch,
                       keep_all ? cache(k) : nullptr);
            if (recompute && (k + 1) % seg == 0 && k + 1 < L) slab(w.checkpoints, (k + 1) / seg) = forward_state(k + 1);
            if (tracking && k + 1 < L) running += tracking_cost(slice, as_const(forward_state(k + 1)), w.head);
            if (stop.poll()) return;
        }
        const MatMap<T> x_final = forward_state(L);
        if (!x_final.allFinite()) {
            w.overflow = locate_overflow(net, layers, x0, x_final, w.scratch);
            return;
        }
        T* p_data = want_grad ? w.p.data() : nullptr;
        w.loss = terminal_cost(slice, as_const(x_final), p_data, has_head_params && want_grad ? w.gW.data() : nullptr,
                               has_head_params && want_grad ? w.gmu.data() : nullptr, w.head) +
                 double(w1h) * running;
        if (!want_grad) return;

        // Backward sweep, segment by segment from the last.
        MatMap<T> p(p_data, d, n);
        for (Index s = n_segments - 1; s >= 0; --s) {
            const Index k0 = s * seg, k1 = std::min(k0 + seg, L);
            if (recompute)
                for (Index k = k0; k < k1; ++k)
                    Form::step(layers[k], net.activation, as_const(segment_state(k0, k)), segment_state(k0, k + 1), h,
                               w.scratch, cache(k));
            for (Index k = k1 - 1; k >= k0; --k) {
                const CMatMap<T> x = as_const(segment_state(k0, k));
                Form::adjoint(layers[k], net.activation, x, p, RowMap<T>(w.gV.data() + k * dd, d, d),
                              VecMap<T>(w.gb.data() + k * d, d), h, w.scratch, cache(k));
                if (tracking && k >= 1) add_tracking_adjoint(slice, x, p, w1h);
                if (stop.poll()) return;
            }
        }
        if (grads->dX) MatMap<T>(grads->dX + start * d, d, n) = p;
    };

    auto add = [](std::vector<double>& acc, const Vec<T>& v) {
        Eigen::Map<Eigen::VectorXd>(acc.data(), static_cast<Index>(acc.size())) += v.template cast<double>();
    };
    auto reduce = [&](Index, Workspace& w) {
        overflow.merge(w.overflow);
        if (w.overflow.any()) return;
        loss += w.loss;
        if (!want_grad) return;
        add(acc_V, w.gV);
        add(acc_b, w.gb);
        if (has_head_params) {
            add(acc_W, w.gW);
            add(acc_mu, w.gmu);
        }
    };
    ordered_blocks(blocks.count(), opt, make, body, reduce);
    if (overflow.any()) throw NonFinite(overflow.layer, overflow.samples, "forward", overflow_message(overflow, N));

    // Regularisers: (w2 h / 2) sum_k |theta_k|^2 and (w_head / 2) |theta_head|^2.
    auto sq = [](const T* a, Index n) { return Eigen::Map<const Vec<T>>(a, n).template cast<double>().squaredNorm(); };
    const double w2h = cost.w2 * double(h);
    loss += 0.5 * w2h * (sq(net.V, L * dd) + sq(net.b, L * d));
    if (has_head_params) loss += 0.5 * cost.w_head * (sq(cost.W, m * d) + sq(cost.mu, m));
    if (!std::isfinite(loss))
        throw NonFinite(L, 0, "loss", "the loss is not finite (overflow in the cost of the final states)");
    if (!want_grad) return loss;

    // gradient = accumulated sample terms + regulariser terms, in the compute dtype
    auto finish = [](T* out, const std::vector<double>& acc, const T* theta, double weight) {
        for (std::size_t i = 0; i < acc.size(); ++i) out[i] = T(acc[i] + weight * double(theta[i]));
        return Eigen::Map<const Vec<T>>(out, static_cast<Index>(acc.size())).allFinite();
    };
    bool finite = finish(grads->dV, acc_V, net.V, w2h);
    finite &= finish(grads->db, acc_b, net.b, w2h);
    if (has_head_params) {
        finite &= finish(grads->dW, acc_W, cost.W, cost.w_head);
        finite &= finish(grads->dmu, acc_mu, cost.mu, cost.w_head);
    }
    if (grads->dX) finite &= CMatMap<T>(grads->dX, d, N).allFinite();
    if (!finite)
        throw NonFinite(-1, 0, "backward", "the backward (adjoint) sweep overflowed: gradients are not finite");
    return loss;
}

// Runs fn(FormType{}) for the form chosen at run time.
template <class Fn>
decltype(auto) with_form(Form form, Fn&& fn) {
    switch (form) {
        case Form::Inner: return fn(Inner{});
        case Form::Outer: return fn(Outer{});
        case Form::Symmetric: return fn(Symmetric{});
        case Form::Antisymmetric: return fn(Antisymmetric{});
    }
    throw std::invalid_argument("unknown form");
}

}  // namespace resode
