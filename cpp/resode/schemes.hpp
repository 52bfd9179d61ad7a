// How one layer integrates its vector field over a step h, with the exact
// adjoint and tangent of that step. A scheme wraps a form (forms/*.hpp) and is
// what the sweeps call, through a value of its type (Runge-Kutta schemes carry
// their tableau):
//   cached()             d x n arrays that step() keeps for adjoint()
//   step(l, a, x, xn, h, ws, cache)       xn = Phi(x); xn may alias x
//   adjoint(l, a, x, p, grad, h, ws, cache)
//                        p <- (dPhi/dx)^T p, grad += (dPhi/dtheta)^T p
//   tangent(l, dl, a, x, xdot, h, ws)     x <- Phi(x), xdot <- its derivative
//   inverse(l, a, xn, x, h, ws, cache)    (reversible schemes) x = Phi^-1(xn),
//                        keeping the same cache as step() would
#pragma once

#include "resode/forms/hamiltonian.hpp"

namespace resode {

// Whether the form F fuses its field into Euler's step (F::euler_step).
template <class F, class T, class = void>
inline constexpr bool has_euler_step = false;
template <class F, class T>
inline constexpr bool
    has_euler_step<F, T,
                   std::void_t<decltype(F::euler_step(std::declval<const Layer<T>&>(), Activation{},
                                                      std::declval<CMatMap<T>>(), std::declval<MatMap<T>>(), T{},
                                                      std::declval<Scratch<T>&>(), static_cast<T*>(nullptr)))>> = true;

template <class F>
struct Euler {
    using Field = F;
    static constexpr int kCached = F::kCached;
    static constexpr bool kReversible = false;
    static constexpr int cached() { return kCached; }

    template <class T>
    static void step(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> xn, T h, Scratch<T>& ws, T* cache) {
        if constexpr (has_euler_step<F, T>) {
            F::euler_step(l, a, x, xn, h, ws, cache);  // the same values in one pass
        } else {
            MatMap<T> f = ws.like(Buf::stage, x);
            F::field(l, a, x, f, ws, cache);
            xn.array() = x.array() + h * f.array();
        }
    }

    template <class T>
    static void adjoint(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> p, const LayerGrad<T>& grad, T h,
                        Scratch<T>& ws, const T* cache) {
        F::adjoint(l, a, x, as_const(p), p, h, grad, ws, cache);
    }

    template <class T>
    static void tangent(const Layer<T>& l, const Layer<T>* dl, Activation a, MatMap<T> x, MatMap<T> xdot, T h,
                        Scratch<T>& ws) {
        MatMap<T> f = ws.like(Buf::stage, x), fdot = ws.like(Buf::stage_dot, x);
        F::jvp(l, dl, a, as_const(x), as_const(xdot), fdot, ws);
        F::field(l, a, as_const(x), f, ws, static_cast<T*>(nullptr));
        xdot += h * fdot;
        x += h * f;
    }
};

// Explicit Runge-Kutta methods whose Butcher matrix has only a subdiagonal
// (Heun, the classical RK4): stage j evaluates K_j = f(X_j) at
// X_j = x + h a_j K_{j-1} (X_1 = x), and x+ = x + h sum_j w_j K_j. The
// parameters are constant over the step. The adjoint is the adjoint
// Runge-Kutta recursion, i.e. the exact transpose of the step's derivative:
//   gK_S = h w_S p,  gK_j = h w_j p + h a_{j+1} J_{j+1}^T gK_{j+1},
//   p <- p + sum_j J_j^T gK_j,  grad += sum_j (df/dtheta at X_j)^T gK_j.
// The tableau is a run-time value: one instantiation of the sweeps serves every
// Runge-Kutta scheme, and with the shears below each form's translation unit
// compiled 17-40 % faster (measured at x86-64-v3); Heun and RK4 ran as fast as
// with compile-time tableaus (A/B of the two builds, d = 2 and 16).
struct Tableau {
    int stages;
    double a[4];
    double w[4];
};
inline constexpr Tableau kHeun{2, {0.0, 1.0}, {0.5, 0.5}};
inline constexpr Tableau kRK4{4, {0.0, 0.5, 0.5, 1.0}, {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6}};

template <class F>
struct RungeKutta {
    using Field = F;
    static constexpr bool kReversible = false;
    const Tableau* tab;

    // each stage's form cache, then the stage inputs X_2..X_S
    int cached() const { return tab->stages * F::kCached + (tab->stages - 1); }

    template <class T>
    static T* form_cache(T* cache, int j, Index size) {
        return cache ? cache + j * F::kCached * size : nullptr;
    }
    template <class T>
    T* stage_input(T* cache, int j, Index size) const {
        return cache + (tab->stages * F::kCached + j - 1) * size;
    }

    template <class T>
    void step(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> xn, T h, Scratch<T>& ws, T* cache) const {
        const Tableau t = *tab;  // a local copy: stores to the T arrays cannot alias it
        const int S = t.stages;
        const Index d = x.rows(), n = x.cols(), size = padded_size(x);
        MatMap<T> K = ws.like(Buf::stage, x), acc = ws.like(Buf::stage_sum, x), X = ws.like(Buf::stage_state, x);
        for (int j = 0; j < S; ++j) {
            const CMatMap<T> Xj = j == 0 ? x : (cache ? CMatMap<T>(stage_input(cache, j, size), d, n) : as_const(X));
            F::field(l, a, Xj, K, ws, form_cache(cache, j, size));
            if (j == 0)
                acc = T(t.w[0]) * K;
            else
                acc += T(t.w[j]) * K;
            if (j + 1 < S) {
                MatMap<T> next = cache ? MatMap<T>(stage_input(cache, j + 1, size), d, n) : X;
                next.array() = x.array() + (h * T(t.a[j + 1])) * K.array();
            }
        }
        xn.array() = x.array() + h * acc.array();
    }

    template <class T>
    void adjoint(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> p, const LayerGrad<T>& grad, T h,
                 Scratch<T>& ws, const T* cache) const {
        const Tableau t = *tab;
        const int S = t.stages;
        const Index d = x.rows(), n = x.cols(), size = padded_size(x);
        T* c = const_cast<T*>(cache);
        MatMap<T> pn = ws.like(Buf::stage, x), gK = ws.like(Buf::stage_sum, x), gX = ws.like(Buf::stage_state, x);
        pn = p;
        for (int j = S - 1; j >= 0; --j) {
            const CMatMap<T> Xj = j == 0 ? x : CMatMap<T>(stage_input(c, j, size), d, n);
            if (j == S - 1)
                gK.array() = (h * T(t.w[j])) * p.array();
            else
                gK.array() = (h * T(t.w[j])) * p.array() + (h * T(t.a[j + 1])) * gX.array();
            gX.setZero();
            F::adjoint(l, a, Xj, as_const(gK), gX, T(1), grad, ws, form_cache(c, j, size));
            pn += gX;
        }
        p = pn;
    }

    template <class T>
    void tangent(const Layer<T>& l, const Layer<T>* dl, Activation a, MatMap<T> x, MatMap<T> xdot, T h,
                 Scratch<T>& ws) const {
        const Tableau t = *tab;
        const int S = t.stages;
        MatMap<T> K = ws.like(Buf::stage, x), acc = ws.like(Buf::stage_sum, x), X = ws.like(Buf::stage_state, x);
        MatMap<T> Kd = ws.like(Buf::stage_dot, x), accd = ws.like(Buf::stage_sum_dot, x),
                  Xd = ws.like(Buf::stage_state_dot, x);
        for (int j = 0; j < S; ++j) {
            const CMatMap<T> Xj = as_const(j == 0 ? x : X), Xdj = as_const(j == 0 ? xdot : Xd);
            F::jvp(l, dl, a, Xj, Xdj, Kd, ws);
            F::field(l, a, Xj, K, ws, static_cast<T*>(nullptr));
            if (j == 0) {
                acc = T(t.w[0]) * K;
                accd = T(t.w[0]) * Kd;
            } else {
                acc += T(t.w[j]) * K;
                accd += T(t.w[j]) * Kd;
            }
            if (j + 1 < S) {
                X.array() = x.array() + (h * T(t.a[j + 1])) * K.array();
                Xd.array() = xdot.array() + (h * T(t.a[j + 1])) * Kd.array();
            }
        }
        x.array() += h * acc.array();
        xdot.array() += h * accd.array();
    }
};

// Partitioned schemes for the split (Hamiltonian) forms, as compositions of
// shears y += c F(z) and z += c G(y). Each shear has determinant 1 and is
// inverted exactly (in exact arithmetic) by the shear with -c, so these steps
// preserve volume, are symplectic when F and G are gradients (hamiltonian), and
// can be run backwards (kReversible).
//   symplectic Euler:  y+ = y + h F(z),  z+ = z + h G(y+)
//   Stormer-Verlet:    z' = z + h/2 G(y),  y+ = y + h F(z'),  z+ = z' + h/2 G(y+)
// The composition is a run-time value, as the Runge-Kutta tableau is: one
// instantiation of the sweeps serves both schemes.
struct Shears {
    int count;
    Half half[3];
    double frac[3];
};
inline constexpr Shears kSymplecticEuler{2, {Half::Y, Half::Z}, {1.0, 1.0}};
inline constexpr Shears kVerlet{3, {Half::Z, Half::Y, Half::Z}, {0.5, 1.0, 0.5}};

template <class F>
struct Partitioned {
    using Field = F;
    static constexpr bool kReversible = true;
    const Shears* sh;

    // each shear keeps F::kHalfCached arrays of m x n = half a d x n array
    int cached() const { return (sh->count * F::kHalfCached + 1) / 2; }

    // the arrays of shear i: half-height arrays at the padded spacing
    template <class T>
    static T* shear_cache(T* cache, int i, CMatMap<T> x) {
        return cache ? cache + i * F::kHalfCached * padded(x.rows() / 2, x.cols()) : nullptr;
    }

    template <class T>
    void step(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> xn, T h, Scratch<T>& ws, T* cache) const {
        if (xn.data() != x.data()) xn = x;
        for (int i = 0; i < sh->count; ++i)
            F::shear(l, a, sh->half[i], xn, h * T(sh->frac[i]), ws, shear_cache(cache, i, as_const(xn)));
    }

    template <class T>
    void adjoint(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> p, const LayerGrad<T>& grad, T h,
                 Scratch<T>& ws, const T* cache) const {
        T* c = const_cast<T*>(cache);
        for (int i = sh->count - 1; i >= 0; --i)
            F::shear_adjoint(l, a, sh->half[i], p, h * T(sh->frac[i]), grad, ws, shear_cache(c, i, x));
    }

    template <class T>
    void inverse(const Layer<T>& l, Activation a, CMatMap<T> xn, MatMap<T> x, T h, Scratch<T>& ws, T* cache) const {
        if (xn.data() != x.data()) x = xn;
        for (int i = sh->count - 1; i >= 0; --i)
            F::shear(l, a, sh->half[i], x, -h * T(sh->frac[i]), ws, shear_cache(cache, i, as_const(x)));
    }

    template <class T>
    void tangent(const Layer<T>& l, const Layer<T>* dl, Activation a, MatMap<T> x, MatMap<T> xdot, T h,
                 Scratch<T>& ws) const {
        for (int i = 0; i < sh->count; ++i) F::shear_tangent(l, dl, a, sh->half[i], x, xdot, h * T(sh->frac[i]), ws);
    }
};

}  // namespace resode
