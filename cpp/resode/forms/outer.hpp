// outer: f(x) = s(V x + b)   (E 2017; Haber & Ruthotto 2017)
#pragma once

#include "resode/forms/common.hpp"

namespace resode {

struct Outer {
    static constexpr int kCached = 1;  // s'(z), z = A x + b
    static constexpr Index v_size(Index d) { return d * d; }
    static constexpr Index b_size(Index d) { return d; }
    static constexpr Index derived_size(Index) { return 0; }

    // The matrix the form applies: V itself (antisymmetric reuses this form with a derived one).
    template <class T>
    static CRowMap<T> matrix(const Layer<T>& l) {
        return l.D ? l.derived() : l.mat();
    }

    template <class T>
    static void field(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> f, Scratch<T>& ws, T* cache) {
        MatMap<T> z = ws.like(Buf::form_a, x);
        prod::affine(z, matrix(l), x, l.vec());
        if (cache)
            activation::value_and_derivative(a, z.data(), f.data(), cache, z.size());
        else
            activation::value(a, z.data(), f.data(), z.size());
    }

    // delta = s'(z) * g;  (df/dx)^T g = A^T delta;  dA += c delta x^T, db += c delta
    template <class T>
    static void adjoint(const Layer<T>& l, Activation, CMatMap<T> x, CMatMap<T> g, MatMap<T> out, T c,
                        const LayerGrad<T>& grad, Scratch<T>& ws, const T* cache) {
        MatMap<T> delta = ws.like(Buf::form_a, x);
        delta.array() = CMatMap<T>(cache, x.rows(), x.cols()).array() * g.array();
        prod::add_outer(grad.mat(), c, as_const(delta), x);
        prod::add_row_sums(grad.vec(), c, as_const(delta));
        prod::add_transpose(out, c, matrix(l), as_const(delta));
    }

    // s'(z) * (A xdot + dA x + db)
    template <class T>
    static void jvp(const Layer<T>& l, const Layer<T>* dl, Activation a, CMatMap<T> x, CMatMap<T> xdot, MatMap<T> out,
                    Scratch<T>& ws) {
        MatMap<T> z = ws.like(Buf::form_a, x), ds = ws.like(Buf::form_b, x), s = ws.like(Buf::form_c, x);
        prod::affine(z, matrix(l), x, l.vec());
        activation::value_and_derivative(a, z.data(), s.data(), ds.data(), z.size());
        prod::apply(out, matrix(l), xdot);
        if (dl) {
            prod::add_apply(out, T(1), matrix(*dl), x);
            out.colwise() += dl->vec();
        }
        out.array() *= ds.array();
    }
};

}  // namespace resode
