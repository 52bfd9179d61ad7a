// The sweeps, written once for every form and scheme: the forward sweep
// x_{k+1} = P(Phi_k(x_k)), the backward adjoint sweep
// p_k = (dPhi_k/dx)^T (P' * p_{k+1}) (+ running term), the accumulation of
// parameter gradients over samples (docs/mathematics.md), and the tangent
// (forward-mode) sweep. Phi_k is one step of a scheme (schemes.hpp) for a form
// (forms/*.hpp); P is the identity or relu (project). The scheme and form are
// template parameters; the activation and head are chosen per block.
#pragma once

#include "resode/cost.hpp"
#include "resode/forms/antisymmetric.hpp"
#include "resode/forms/inner.hpp"
#include "resode/forms/outer.hpp"
#include "resode/forms/resnet_d.hpp"
#include "resode/forms/symmetric.hpp"
#include "resode/parallel.hpp"
#include "resode/schemes.hpp"
#include "resode/storage.hpp"

#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace resode {

// The layers as a form sees them: layer k's slices of V and b (those of its
// parameter group) and the data derived from them, computed once per call.
template <class Form, class T>
class Layers {
public:
    Layers(const Network<T>& net, const T* V, const T* b, T gamma)
        : d_(net.d), share_(net.share), V_(V), b_(b), vs_(Form::v_size(net.d)), bs_(Form::b_size(net.d)),
          ds_(Form::derived_size(net.d)) {
        if constexpr (Form::derived_size(2) > 0) {
            derived_.resize(static_cast<std::size_t>(net.groups * ds_));
            for (Index g = 0; g < net.groups; ++g) Form::derive(V + g * vs_, gamma, d_, derived_.data() + g * ds_);
        }
    }
    explicit Layers(const Network<T>& net) : Layers(net, net.V, net.b, net.gamma) {}

    Layer<T> operator[](Index k) const {
        const Index g = k / share_;
        return Layer<T>{V_ + g * vs_, ds_ > 0 ? derived_.data() + g * ds_ : nullptr, b_ + g * bs_, d_};
    }

private:
    Index d_, share_;
    const T* V_;
    const T* b_;
    Index vs_, bs_, ds_;
    std::vector<T> derived_;
};

// Layer k's step Phi_k followed by the projection: xn = P(Phi_k(x)).
template <class Scheme, class T>
void layer_step(const Scheme& scheme, const Network<T>& net, const Layer<T>& l, CMatMap<T> x, MatMap<T> xn,
                Scratch<T>& ws, T* cache = nullptr) {
    scheme.step(l, net.activation, x, xn, net.h, ws, cache);
    if (net.project) relu_in_place(xn);
}

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
template <class Scheme, class T>
Overflow locate_overflow(const Scheme& scheme, const Network<T>& net, const Layers<typename Scheme::Field, T>& layers,
                         CMatMap<T> x0, MatMap<T> buf, Scratch<T>& ws) {
    Overflow o;
    buf = x0;
    for (Index k = 0; k < net.L; ++k) {
        layer_step(scheme, net, layers[k], as_const(buf), buf, ws);
        if (!buf.allFinite()) {
            o.layer = std::min(o.layer, k);
            break;
        }
    }
    // a non-finite component stays non-finite: x + h f is inf or NaN
    for (Index k = o.layer < net.L ? o.layer + 1 : net.L; k < net.L; ++k)
        layer_step(scheme, net, layers[k], as_const(buf), buf, ws);
    o.samples = nonfinite_columns(as_const(buf));
    return o;
}

inline std::string overflow_message(const Overflow& o, Index N) {
    return "non-finite state after layer " + std::to_string(o.layer) + " (0-based) in " + std::to_string(o.samples) +
           " of " + std::to_string(N) + " samples";
}

// forward (out is (N, d)) or trajectory (out is (L+1, N, d)).
template <class Scheme, class T>
void forward_sweep(const Scheme& scheme, const Network<T>& net, const T* X, Index N, T* out, bool trajectory,
                   const RunOptions& opt) {
    const Index d = net.d, L = net.L;
    const Layers<typename Scheme::Field, T> layers(net);
    const BlockRange blocks{N, block_size(d, sizeof(T), L * (1 + scheme.cached()))};
    Overflow overflow;
    struct Workspace {
        Scratch<T> scratch;
        Mat<T> states;  // the block's input and its running state
        Overflow overflow;
    };
    auto make = [&] { return Workspace{Scratch<T>(d, blocks.capacity()), Mat<T>(d, 2 * blocks.capacity()), {}}; };
    auto body = [&](Index blk, Workspace& w, StopToken& stop) {
        const Index n = blocks.cols(blk), start = blocks.start(blk);
        w.scratch.set_cols(n);
        w.overflow = Overflow{};
        MatMap<T> x0(w.states.data(), d, n), x(w.states.data() + d * blocks.capacity(), d, n);
        // x_k of the block in the caller's (N, d) array: its slab of the trajectory, or the output
        auto slab = [&](Index k) { return SampleMap<T>(out + (trajectory ? k * N * d : 0) + start * d, d, n); };
        x0 = CSampleMap<T>(X + start * d, d, n);
        x = x0;
        if (trajectory) slab(0) = x;
        for (Index k = 0; k < L; ++k) {
            layer_step(scheme, net, layers[k], as_const(x), x, w.scratch);
            if (trajectory) slab(k + 1) = x;
            if (stop.poll()) return;
        }
        if (!trajectory) slab(L) = x;
        if (!x.allFinite()) w.overflow = locate_overflow(scheme, net, layers, as_const(x0), x, w.scratch);
    };
    auto reduce = [&](Index, Workspace& w) { overflow.merge(w.overflow); };
    ordered_blocks(blocks.count(), opt, make, body, reduce);
    if (overflow.any()) throw NonFinite(overflow.layer, overflow.samples, "forward", overflow_message(overflow, N));
}

// loss + the regularisers (w2 h / 2) sum over layers |theta_k|^2 (a group counts
// once per layer that uses it) and (w_head / 2) |theta_head|^2, added term by term.
template <class T>
double regularised(double loss, const Network<T>& net, const Cost<T>& cost, Index vs, Index bs) {
    auto sq = [](const T* a, Index n) { return Eigen::Map<const Vec<T>>(a, n).template cast<double>().squaredNorm(); };
    const double w2h = cost.w2 * double(net.h);
    for (Index g = 0; g < net.groups; ++g)
        loss += 0.5 * w2h * double(net.group_layers(g)) * (sq(net.V + g * vs, vs) + sq(net.b + g * bs, bs));
    if (has_head_params(cost.head)) loss += 0.5 * cost.w_head * (sq(cost.W, cost.m * net.d) + sq(cost.mu, cost.m));
    return loss;
}

// The gradients: the sample terms summed over blocks (in double) + the
// regularisers' terms, in the compute dtype; throws if one is not finite.
template <class T>
void finish_gradients(const Network<T>& net, const Cost<T>& cost, Index vs, Index bs, Index N,
                      const std::vector<double>& acc_V, const std::vector<double>& acc_b,
                      const std::vector<double>& acc_W, const std::vector<double>& acc_mu, const Gradients<T>& grads) {
    const Index G = net.groups, m = cost.m, d = net.d;
    const bool head = has_head_params(cost.head);
    auto finish = [](T* out, const std::vector<double>& acc, const T* theta, Index offset, Index n, double weight) {
        for (Index i = offset; i < offset + n; ++i) out[i] = T(acc[i] + weight * double(theta[i]));
    };
    const double w2h = cost.w2 * double(net.h);
    for (Index g = 0; g < G; ++g) {
        const double weight = w2h * double(net.group_layers(g));
        finish(grads.dV, acc_V, net.V, g * vs, vs, weight);
        finish(grads.db, acc_b, net.b, g * bs, bs, weight);
    }
    if (head) {
        finish(grads.dW, acc_W, cost.W, 0, m * d, cost.w_head);
        finish(grads.dmu, acc_mu, cost.mu, 0, m, cost.w_head);
    }
    auto all_finite = [](const T* a, Index n) { return Eigen::Map<const Vec<T>>(a, n).allFinite(); };
    bool finite = all_finite(grads.dV, G * vs) && all_finite(grads.db, G * bs);
    if (head) finite = finite && all_finite(grads.dW, m * d) && all_finite(grads.dmu, m);
    if (grads.dX) finite = finite && all_finite(grads.dX, N * d);
    if (!finite)
        throw NonFinite(-1, 0, "backward", "the backward (adjoint) sweep overflowed: gradients are not finite");
}

// J (docs/mathematics.md) and, when grads is given, its gradients (and, with
// grads->P, the costates of every layer). Where the backward sweep finds the
// states is the storage plan's (storage.hpp: every state, checkpoints every
// checkpoint_every layers, or reversible steps); the per-block forward and
// backward passes below are written once for all plans.
template <class Scheme, class T>
double cost_sweep(const Scheme& scheme, const Network<T>& net, const Cost<T>& cost, const T* X, Index N,
                  const Gradients<T>* grads, const RunOptions& opt, Index checkpoint_every = 0,
                  bool reversible = false) {
    using Field = typename Scheme::Field;
    const Index d = net.d, L = net.L, m = cost.m, G = net.groups;
    const Index vs = Field::v_size(d), bs = Field::b_size(d);
    const bool want_grad = grads != nullptr;
    if constexpr (!Scheme::kReversible)
        if (reversible) throw std::invalid_argument("reversible needs scheme 'symplectic_euler' or 'verlet'");
    if (reversible && net.project) throw std::invalid_argument("reversible cannot be combined with project");
    const StoragePlan plan = StoragePlan::choose(want_grad, reversible, checkpoint_every, L);
    const bool has_head_params = resode::has_head_params(cost.head);
    const bool tracking = cost.w1 > 0;
    // With gradients, the running cost of x_k is summed in the backward sweep, in
    // the pass that adds its adjoint term (one pass over the states and targets
    // fewer a layer), and the layers' terms are added in forward order at the end,
    // so that J is bitwise the loss-only sweep's. Reversible runs reconstruct the
    // states, so their running cost stays in the forward sweep.
    const bool running_backward = tracking && want_grad && plan.kind != Storage::reversible;
    const T h = net.h, w1h = T(cost.w1) * net.h;
    const Layers<Field, T> layers(net);
    const BlockRange blocks{N, block_size(d, sizeof(T), L * (1 + scheme.cached()))};

    struct Workspace {
        Workspace(Index d_, Index cols, Index head_rows) : scratch(d_, cols), head(head_rows, cols) {}
        Scratch<T> scratch;
        HeadScratch<T> head;
        Mat<T> input, states, checkpoints, cache;  // the block's x_0 and the plan's buffers
        Mat<T> p;                                  // the costate
        Vec<T> gV, gb, gW, gmu;                    // the block's gradient contributions
        std::vector<double> running;               // running_backward: each layer's running cost
        double loss = 0;
        Overflow overflow;
    };
    auto make = [&] {
        const Index cols = blocks.capacity();
        Workspace w(d, cols, std::max(m, d));
        w.input.resize(d, cols);
        w.states.resize(d, plan.state_slabs() * cols);
        w.checkpoints.resize(d, plan.checkpoint_slabs() * cols);
        w.cache.resize(d, plan.cached_layers() * scheme.cached() * cols);
        if (want_grad) {
            w.p.resize(d, cols);
            if (running_backward) w.running.resize(static_cast<std::size_t>(L));
            w.gV.resize(G * vs);
            w.gb.resize(G * bs);
            if (has_head_params) {
                w.gW.resize(m * d);
                w.gmu.resize(m);
            }
        }
        return w;
    };

    std::vector<double> acc_V(want_grad ? G * vs : 0), acc_b(want_grad ? G * bs : 0);
    std::vector<double> acc_W(want_grad && has_head_params ? m * d : 0), acc_mu(want_grad && has_head_params ? m : 0);
    double loss = 0;
    Overflow overflow;

    auto body = [&](Index blk, Workspace& w, StopToken& stop) {
        const Index n = blocks.cols(blk), start = blocks.start(blk);
        w.scratch.set_cols(n);
        w.loss = 0;
        w.overflow = Overflow{};
        const SampleSlice<T> slice = gather_targets(cost, start, n, w.head);
        MatMap<T> x0(w.input.data(), d, n);
        x0 = CSampleMap<T>(X + start * d, d, n);
        BlockStates<T> states(plan, x0, w.states, w.checkpoints, w.cache, scheme.cached(), blocks.capacity());
        auto costate = [&](Index k) { return SampleMap<T>(grads->P + k * N * d + start * d, d, n); };

        // Forward sweep
        double running = 0;
        for (Index k = 0; k < L; ++k) {
            layer_step(scheme, net, layers[k], as_const(states.forward(k)), states.forward(k + 1), w.scratch,
                       states.forward_cache(k));
            states.keep(k + 1);
            if (tracking && !running_backward && k + 1 < L)
                running += tracking_cost(slice, as_const(states.forward(k + 1)), w.head);
            if (stop.poll()) return;
        }
        const MatMap<T> x_final = states.forward(L);
        if (!x_final.allFinite()) {
            w.overflow = locate_overflow(scheme, net, layers, as_const(x0), x_final, w.scratch);
            return;
        }
        T* p_data = want_grad ? w.p.data() : nullptr;
        const double terminal =
            terminal_cost(slice, as_const(x_final), p_data, has_head_params && want_grad ? w.gW.data() : nullptr,
                          has_head_params && want_grad ? w.gmu.data() : nullptr, w.head);
        w.loss = terminal + double(w1h) * running;
        if (!want_grad) return;

        // Backward sweep, segment by segment from the last: each segment's states
        // are recomputed (checkpoints) or reconstructed (reversible) first.
        MatMap<T> p(p_data, d, n);
        if (grads->P) costate(L) = p;
        auto adjoint = [&](Index k, CMatMap<T> x, CMatMap<T> x_next) {
            const Index g = net.group(k);
            const LayerGrad<T> grad{w.gV.data() + g * vs, w.gb.data() + g * bs, d};
            // the first visit of a group in this block (layers run backwards) starts its sums
            if (k == L - 1 || net.group(k + 1) != g) {
                VecMap<T>(grad.V, vs).setZero();
                VecMap<T>(grad.b, bs).setZero();
            }
            if (net.project) p.array() *= (x_next.array() > T(0)).template cast<T>();
            scheme.adjoint(layers[k], net.activation, x, p, grad, h, w.scratch, states.cache(k));
            if (tracking && k >= 1) {
                const double term = add_tracking_adjoint(slice, x, p, w1h, w.head);
                if (running_backward) w.running[static_cast<std::size_t>(k)] = term;
            }
            if (cost.state_cotangents) p += CSampleMap<T>(cost.state_cotangents + (k * N + start) * d, d, n);
            if (grads->P) costate(k) = p;
        };
        for (Index s = plan.segments - 1; s >= 0; --s) {
            const Index k0 = s * plan.seg, k1 = std::min(k0 + plan.seg, L);
            if (plan.kind == Storage::checkpoints)
                for (Index k = k0; k < k1; ++k)
                    layer_step(scheme, net, layers[k], as_const(states.at(k0, k)), states.at(k0, k + 1), w.scratch,
                               states.cache(k));
            if constexpr (Scheme::kReversible)
                if (plan.kind == Storage::reversible)
                    scheme.inverse(layers[k0], net.activation, as_const(states.at(k0, k1)), states.at(k0, k0), h,
                                   w.scratch, states.cache(k0));
            for (Index k = k1 - 1; k >= k0; --k) {
                adjoint(k, as_const(states.at(k0, k)), as_const(states.at(k0, k + 1)));
                if (stop.poll()) return;
            }
        }
        if (grads->dX) SampleMap<T>(grads->dX + start * d, d, n) = p;
        if (running_backward) {
            for (Index k = 1; k < L; ++k) running += w.running[static_cast<std::size_t>(k)];
            w.loss = terminal + double(w1h) * running;
        }
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

    loss = regularised(loss, net, cost, vs, bs);
    if (!std::isfinite(loss))
        throw NonFinite(L, 0, "loss", "the loss is not finite (overflow in the cost of the final states)");
    if (!want_grad) return loss;
    finish_gradients(net, cost, vs, bs, N, acc_V, acc_b, acc_W, acc_mu, *grads);
    return loss;
}

// The tangent (forward-mode) sweep: the derivative of the final states (or,
// with per_layer, of every state) along a direction (Xdot, dV, db) of the
// inputs and parameters; Xdot or dV/db may be null (zero). Also writes the
// final states to x_out when given.
template <class Scheme, class T>
void tangent_sweep(const Scheme& scheme, const Network<T>& net, const T* X, Index N, const T* Xdot, const T* dV,
                   const T* db, T* x_out, T* out, bool per_layer, const RunOptions& opt) {
    using Field = typename Scheme::Field;
    const Index d = net.d, L = net.L;
    const Layers<Field, T> layers(net);
    std::optional<Layers<Field, T>> dlayers;
    if (dV) dlayers.emplace(net, dV, db, T(0));  // derived data is linear in V (gamma enters only the value)
    const BlockRange blocks{N, block_size(d, sizeof(T), L * (1 + scheme.cached()))};
    Overflow overflow;
    struct Workspace {
        Scratch<T> scratch;
        Mat<T> states;  // the block's input x_0, its state x and tangent xdot
        Overflow overflow;
        Index tangent_overflow = 0;
    };
    auto make = [&] { return Workspace{Scratch<T>(d, blocks.capacity()), Mat<T>(d, 3 * blocks.capacity()), {}, 0}; };
    auto body = [&](Index blk, Workspace& w, StopToken& stop) {
        const Index n = blocks.cols(blk), start = blocks.start(blk), stride = d * blocks.capacity();
        w.scratch.set_cols(n);
        w.overflow = Overflow{};
        w.tangent_overflow = 0;
        MatMap<T> x0(w.states.data(), d, n), x(w.states.data() + stride, d, n), xd(w.states.data() + 2 * stride, d, n);
        // the tangent of x_k in the caller's array: its slab of every layer's, or the output
        auto slab = [&](Index k) { return SampleMap<T>(out + (per_layer ? k * N * d : 0) + start * d, d, n); };
        x0 = CSampleMap<T>(X + start * d, d, n);
        x = x0;
        if (Xdot)
            xd = CSampleMap<T>(Xdot + start * d, d, n);
        else
            xd.setZero();
        if (per_layer) slab(0) = xd;
        for (Index k = 0; k < L; ++k) {
            const Layer<T> dl = dlayers ? (*dlayers)[k] : Layer<T>{};
            scheme.tangent(layers[k], dlayers ? &dl : nullptr, net.activation, x, xd, net.h, w.scratch);
            if (net.project) {
                xd.array() *= (x.array() > T(0)).template cast<T>();
                relu_in_place(x);
            }
            if (per_layer) slab(k + 1) = xd;
            if (stop.poll()) return;
        }
        if (!per_layer) slab(L) = xd;
        if (x_out) SampleMap<T>(x_out + start * d, d, n) = x;
        if (!x.allFinite()) {
            w.overflow = locate_overflow(scheme, net, layers, as_const(x0), x, w.scratch);
        } else if (!xd.allFinite()) {
            w.tangent_overflow += nonfinite_columns(as_const(xd));
        }
    };
    Index tangent_overflow = 0;
    auto reduce = [&](Index, Workspace& w) {
        overflow.merge(w.overflow);
        tangent_overflow += w.tangent_overflow;
    };
    ordered_blocks(blocks.count(), opt, make, body, reduce);
    if (overflow.any()) throw NonFinite(overflow.layer, overflow.samples, "forward", overflow_message(overflow, N));
    if (tangent_overflow > 0)
        throw NonFinite(-1, tangent_overflow, "tangent",
                        "the tangent sweep overflowed in " + std::to_string(tangent_overflow) + " of " +
                            std::to_string(N) + " samples (the states are finite)");
}

// One layer's Hamiltonian sum_i P_i . f(X_i; theta) and its gradient with
// respect to theta (the layer step of the method of successive approximations).
template <class Field, class T>
double layer_hamiltonian_sweep(const Network<T>& net, const T* X, const T* P, Index N, T* dV, T* db,
                               const RunOptions& opt) {
    const Index d = net.d, vs = Field::v_size(d), bs = Field::b_size(d);
    const Layers<Field, T> layers(net);
    const BlockRange blocks{N, block_size(d, sizeof(T), 1 + Field::kCached)};
    struct Workspace {
        Scratch<T> scratch;
        Mat<T> x, p, f, cache, sink;
        Vec<T> gV, gb;
        double value = 0;
    };
    auto make = [&] {
        const Index cols = blocks.capacity();
        return Workspace{
            Scratch<T>(d, cols), Mat<T>(d, cols), Mat<T>(d, cols), Mat<T>(d, cols), Mat<T>(d, Field::kCached * cols),
            Mat<T>(d, cols),     Vec<T>(vs),      Vec<T>(bs)};
    };
    std::vector<double> acc_V(vs, 0.0), acc_b(bs, 0.0);
    double value = 0;
    auto body = [&](Index blk, Workspace& w, StopToken&) {
        const Index n = blocks.cols(blk), start = blocks.start(blk);
        w.scratch.set_cols(n);
        MatMap<T> x(w.x.data(), d, n), p(w.p.data(), d, n), f(w.f.data(), d, n), sink(w.sink.data(), d, n);
        x = CSampleMap<T>(X + start * d, d, n);
        p = CSampleMap<T>(P + start * d, d, n);
        Field::field(layers[0], net.activation, as_const(x), f, w.scratch, w.cache.data());
        w.value = (f.array() * p.array()).template cast<double>().sum();
        w.gV.setZero();
        w.gb.setZero();
        sink.setZero();  // the input cotangent, not wanted here
        Field::adjoint(layers[0], net.activation, as_const(x), as_const(p), sink, T(1),
                       LayerGrad<T>{w.gV.data(), w.gb.data(), d}, w.scratch, w.cache.data());
    };
    auto reduce = [&](Index, Workspace& w) {
        value += w.value;
        for (Index i = 0; i < vs; ++i) acc_V[i] += double(w.gV[i]);
        for (Index i = 0; i < bs; ++i) acc_b[i] += double(w.gb[i]);
    };
    ordered_blocks(blocks.count(), opt, make, body, reduce);
    bool finite = std::isfinite(value);
    for (Index i = 0; i < vs; ++i) finite = finite && std::isfinite(dV[i] = T(acc_V[i]));
    for (Index i = 0; i < bs; ++i) finite = finite && std::isfinite(db[i] = T(acc_b[i]));
    if (!finite) throw NonFinite(0, 0, "layer_hamiltonian", "the layer Hamiltonian or its gradient is not finite");
    return value;
}

// Runs fn(FieldType{}) for the form chosen at run time.
template <class Fn>
decltype(auto) with_form(Form form, Fn&& fn) {
    switch (form) {
        case Form::Inner: return fn(Inner{});
        case Form::Outer: return fn(Outer{});
        case Form::Symmetric: return fn(Symmetric{});
        case Form::Antisymmetric: return fn(Antisymmetric{});
        case Form::ResNetD: return fn(ResNetD{});
        case Form::Hamiltonian: return fn(Hamiltonian{});
        case Form::HamiltonianHR: return fn(HamiltonianHR{});
    }
    throw std::invalid_argument("unknown form");
}

template <class F>
constexpr bool is_split_v = std::is_same_v<F, Hamiltonian> || std::is_same_v<F, HamiltonianHR>;

// Runs fn(SchemeType{}) for the scheme chosen at run time, on the field F.
template <class F, class Fn>
decltype(auto) with_scheme(Scheme scheme, Fn&& fn) {
    switch (scheme) {
        case Scheme::Euler: return fn(Euler<F>{});
        case Scheme::Heun: return fn(RungeKutta<F>{&kHeun});
        case Scheme::RK4: return fn(RungeKutta<F>{&kRK4});
        case Scheme::SymplecticEuler:
        case Scheme::Verlet:
            if constexpr (is_split_v<F>) {
                return fn(Partitioned<F>{scheme == Scheme::SymplecticEuler ? &kSymplecticEuler : &kVerlet});
            } else {
                throw std::invalid_argument("the symplectic schemes need form 'hamiltonian' or 'hamiltonian_hr'");
            }
    }
    throw std::invalid_argument("unknown scheme");
}

}  // namespace resode
