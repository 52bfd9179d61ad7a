// Hamiltonian forms on a state split into halves x = (y, z), m = d / 2:
//   y' = F(z),  z' = G(y)
// a separable system, so that symplectic Euler and Stormer-Verlet (schemes.hpp)
// are explicit and exactly invertible. Each half field is an existing form
// acting on m-vectors, times a sign:
//   hamiltonian    (Chang et al. 2018, Hamiltonian reversible network)
//                  F(z) = K1^T s(K1 z + b1),  G(y) = -K2^T s(K2 y + b2)
//                  H(y, z) = 1^T S(K1 z + b1) + 1^T S(K2 y + b2), S' = s
//                  per layer V = [K1, K2] (2 x m x m), b = [b1, b2]
//   hamiltonian_hr (Haber & Ruthotto 2017, "Hamiltonian inspired" network)
//                  F(z) = s(K z + b1),  G(y) = -s(K^T y + b2)
//                  per layer V = K (m x m), b = [b1, b2]
// As a first-order field f(x) = (F(z), G(y)) they also run with Euler and the
// Runge-Kutta schemes.
#pragma once

#include "resode/forms/outer.hpp"
#include "resode/forms/symmetric.hpp"

namespace resode {

enum class Half { Y = 0, Z = 1 };  // the half a half field writes: F writes y, G writes z

// Chang et al.: both halves are minus/plus the symmetric form, each with its own K.
struct ChangSpec {
    using Sub = Symmetric;
    static constexpr Index v_size(Index m) { return 2 * m * m; }
    static constexpr Index derived_size(Index) { return 0; }
    static constexpr int sign(Half h) { return h == Half::Y ? -1 : 1; }
    template <class T>
    static void derive(const T*, Index, T*) {}
    template <class T>
    static Layer<T> sub(const Layer<T>& l, Half h, Index m) {
        const Index i = static_cast<Index>(h);
        return Layer<T>{l.V + i * m * m, nullptr, l.b + i * m, m};
    }
    static constexpr bool transposed(Half) { return false; }
    template <class T>
    static T* grad_matrix(const LayerGrad<T>& g, Half h, Index m) {
        return g.V + static_cast<Index>(h) * m * m;
    }
};

// Haber & Ruthotto: the outer form with K for y and K^T (derived) for z.
struct HaberRuthottoSpec {
    using Sub = Outer;
    static constexpr Index v_size(Index m) { return m * m; }
    static constexpr Index derived_size(Index m) { return m * m; }
    static constexpr int sign(Half h) { return h == Half::Y ? 1 : -1; }
    template <class T>
    static void derive(const T* V, Index m, T* D) {
        RowMap<T>(D, m, m) = CRowMap<T>(V, m, m).transpose();
    }
    template <class T>
    static Layer<T> sub(const Layer<T>& l, Half h, Index m) {
        return Layer<T>{h == Half::Y ? l.V : l.D, nullptr, l.b + static_cast<Index>(h) * m, m};
    }
    static constexpr bool transposed(Half h) { return h == Half::Z; }
    template <class T>
    static T* grad_matrix(const LayerGrad<T>& g, Half, Index) {
        return g.V;
    }
};

template <class Spec>
struct Split {
    using Sub = typename Spec::Sub;
    // a half field keeps its input half and Sub's cache: (1 + Sub::kCached) m x n arrays
    static constexpr int kHalfCached = 1 + Sub::kCached;
    static constexpr int kCached = kHalfCached;  // both halves: that many d x n arrays
    static constexpr Index v_size(Index d) { return Spec::v_size(d / 2); }
    static constexpr Index b_size(Index d) { return d; }
    static constexpr Index derived_size(Index d) { return Spec::derived_size(d / 2); }

    template <class T>
    static void derive(const T* V, T, Index d, T* D) {
        Spec::derive(V, d / 2, D);
    }

    template <class M>
    static auto dest(M&& x, Half h) {
        const Index m = x.rows() / 2;
        return h == Half::Y ? x.topRows(m) : x.bottomRows(m);
    }
    template <class M>
    static auto src(M&& x, Half h) {
        const Index m = x.rows() / 2;
        return h == Half::Y ? x.bottomRows(m) : x.topRows(m);
    }

    // dest_h(out) (+)= coef sign_h F_h(src_h(x)); out may be x (a shear). With a
    // cache, keeps the input half and Sub's cache in the half's kHalfCached m x n arrays.
    template <bool Add, class T>
    static void half_field(const Layer<T>& l, Activation a, Half h, CMatMap<T> x, MatMap<T> out, T coef, Scratch<T>& ws,
                           T* hcache) {
        const Index m = x.rows() / 2, n = x.cols();
        MatMap<T> in = hcache ? MatMap<T>(hcache, m, n) : ws.t(Buf::half_in, m), f = ws.t(Buf::half_out, m);
        in = src(x, h);
        Sub::field(Spec::sub(l, h, m), a, as_const(in), f, ws, hcache ? hcache + padded(m, n) : nullptr);
        const T k = coef * T(Spec::sign(h));
        if constexpr (Add)
            dest(out, h) += k * f;
        else
            dest(out, h) = k * f;
    }

    // src_h(out) += coef sign_h J_h^T gh, and the parameter gradients, for the
    // cotangent gh (m x n, contiguous) of the half field's output.
    template <class T>
    static void half_adjoint(const Layer<T>& l, Activation a, Half h, CMatMap<T> gh, MatMap<T> out, T coef,
                             const LayerGrad<T>& grad, Scratch<T>& ws, const T* hcache) {
        const Index m = gh.rows(), n = gh.cols();
        const CMatMap<T> in(hcache, m, n);
        MatMap<T> acc = ws.t(Buf::half_out, m);
        acc.setZero();
        const T k = coef * T(Spec::sign(h));
        T* gV = Spec::grad_matrix(grad, h, m);
        const Layer<T> sl = Spec::sub(l, h, m);
        if (Spec::transposed(h)) {
            // the sub-form's matrix is K^T: its gradient, transposed, is K's
            RowMap<T> gt(ws.dd.data(), m, m);
            gt.setZero();
            Sub::adjoint(sl, a, in, gh, acc, k, LayerGrad<T>{gt.data(), grad.b + static_cast<Index>(h) * m, m}, ws,
                         hcache + padded(m, n));
            RowMap<T>(gV, m, m) += gt.transpose();
        } else {
            Sub::adjoint(sl, a, in, gh, acc, k, LayerGrad<T>{gV, grad.b + static_cast<Index>(h) * m, m}, ws,
                         hcache + padded(m, n));
        }
        src(out, h) += acc;
    }

    // dest_h(out) (+)= coef sign_h (J_h src_h(xdot) + (dF_h/dtheta) dl)
    template <bool Add, class T>
    static void half_jvp(const Layer<T>& l, const Layer<T>* dl, Activation a, Half h, CMatMap<T> x, CMatMap<T> xdot,
                         MatMap<T> out, T coef, Scratch<T>& ws) {
        const Index m = x.rows() / 2;
        MatMap<T> in = ws.t(Buf::half_in, m), ind = ws.t(Buf::half_out, m), f = ws.t(Buf::half_aux, m);
        in = src(x, h);
        ind = src(xdot, h);
        Layer<T> sdl;
        if (dl) sdl = Spec::sub(*dl, h, m);
        Sub::jvp(Spec::sub(l, h, m), dl ? &sdl : nullptr, a, as_const(in), as_const(ind), f, ws);
        const T k = coef * T(Spec::sign(h));
        if constexpr (Add)
            dest(out, h) += k * f;
        else
            dest(out, h) = k * f;
    }

    // ---- the first-order field f(x) = (F(z), G(y)) ----
    template <class T>
    static T* half_cache(T* cache, Half h, Index d, Index n) {
        return cache ? cache + static_cast<Index>(h) * kHalfCached * padded(d / 2, n) : nullptr;
    }

    template <class T>
    static void field(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> f, Scratch<T>& ws, T* cache) {
        for (Half h : {Half::Y, Half::Z})
            half_field<false>(l, a, h, x, f, T(1), ws, half_cache(cache, h, x.rows(), x.cols()));
    }

    template <class T>
    static void adjoint(const Layer<T>& l, Activation a, CMatMap<T> x, CMatMap<T> g, MatMap<T> out, T c,
                        const LayerGrad<T>& grad, Scratch<T>& ws, const T* cache) {
        const Index m = x.rows() / 2, n = x.cols();
        // copy both cotangent halves first: g may alias out
        MatMap<T> gy = ws.t(Buf::half_in, m), gz = ws.t(Buf::half_aux, m);
        gy = g.topRows(m);
        gz = g.bottomRows(m);
        T* c0 = const_cast<T*>(cache);
        half_adjoint(l, a, Half::Y, as_const(gy), out, c, grad, ws, half_cache(c0, Half::Y, x.rows(), n));
        half_adjoint(l, a, Half::Z, as_const(gz), out, c, grad, ws, half_cache(c0, Half::Z, x.rows(), n));
    }

    template <class T>
    static void jvp(const Layer<T>& l, const Layer<T>* dl, Activation a, CMatMap<T> x, CMatMap<T> xdot, MatMap<T> out,
                    Scratch<T>& ws) {
        for (Half h : {Half::Y, Half::Z}) half_jvp<false>(l, dl, a, h, x, xdot, out, T(1), ws);
    }

    // ---- shears, the steps of the partitioned schemes: dest_h(x) += coef F_h(src_h(x)) ----
    template <class T>
    static void shear(const Layer<T>& l, Activation a, Half h, MatMap<T> x, T coef, Scratch<T>& ws, T* hcache) {
        half_field<true>(l, a, h, as_const(x), x, coef, ws, hcache);
    }

    // p: the cotangent of the shear's output, updated to its input's
    template <class T>
    static void shear_adjoint(const Layer<T>& l, Activation a, Half h, MatMap<T> p, T coef, const LayerGrad<T>& grad,
                              Scratch<T>& ws, const T* hcache) {
        MatMap<T> gh = ws.t(Buf::half_aux, p.rows() / 2);
        gh = dest(p, h);
        half_adjoint(l, a, h, as_const(gh), p, coef, grad, ws, hcache);
    }

    template <class T>
    static void shear_tangent(const Layer<T>& l, const Layer<T>* dl, Activation a, Half h, MatMap<T> x, MatMap<T> xdot,
                              T coef, Scratch<T>& ws) {
        half_jvp<true>(l, dl, a, h, as_const(x), as_const(xdot), xdot, coef, ws);
        shear(l, a, h, x, coef, ws, static_cast<T*>(nullptr));
    }
};

using Hamiltonian = Split<ChangSpec>;
using HamiltonianHR = Split<HaberRuthottoSpec>;

}  // namespace resode
