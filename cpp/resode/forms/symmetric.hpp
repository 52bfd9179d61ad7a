// symmetric: f(x) = -V^T s(V x + b)   (a gradient flow, Celledoni et al. 2021;
// ResNet-S of Zhang & Schaeffer 2020)
#pragma once

#include "resode/forms/common.hpp"

namespace resode {

struct Symmetric {
    static constexpr int kCached = 2;  // s(z) and s'(z), z = V x + b
    static constexpr Index v_size(Index d) { return d * d; }
    static constexpr Index b_size(Index d) { return d; }
    static constexpr Index derived_size(Index) { return 0; }

    template <class T>
    static void field(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> f, Scratch<T>& ws, T* cache) {
        MatMap<T> z = ws.like(Buf::form_a, x);
        prod::affine(z, l.mat(), x, l.vec());
        if (cache) {
            MatMap<T> s(cache, x.rows(), x.cols());
            activation::value_and_derivative(a, z.data(), s.data(), cache + padded_size(x), z.size());
            prod::apply_transpose(f, l.mat(), as_const(s), T(-1));
        } else {
            activation::value(a, z.data(), z.data(), z.size());
            prod::apply_transpose(f, l.mat(), as_const(z), T(-1));
        }
    }

    // u = s'(z) * (V g);  (df/dx)^T g = -V^T u;  dV += -c (s(z) g^T + u x^T), db += -c u
    template <class T>
    static void adjoint(const Layer<T>& l, Activation, CMatMap<T> x, CMatMap<T> g, MatMap<T> out, T c,
                        const LayerGrad<T>& grad, Scratch<T>& ws, const T* cache) {
        const CMatMap<T> s(cache, x.rows(), x.cols()), ds(cache + padded_size(x), x.rows(), x.cols());
        MatMap<T> u = ws.like(Buf::form_a, x);
        prod::apply(u, l.mat(), g);
        u.array() *= ds.array();
        prod::add_outer(grad.mat(), -c, s, g);
        prod::add_outer(grad.mat(), -c, as_const(u), x);
        prod::add_row_sums(grad.vec(), -c, as_const(u));
        prod::add_transpose(out, -c, l.mat(), as_const(u));
    }

    // -dV^T s(z) - V^T (s'(z) * (V xdot + dV x + db))
    template <class T>
    static void jvp(const Layer<T>& l, const Layer<T>* dl, Activation a, CMatMap<T> x, CMatMap<T> xdot, MatMap<T> out,
                    Scratch<T>& ws) {
        MatMap<T> z = ws.like(Buf::form_a, x), s = ws.like(Buf::form_b, x), ds = ws.like(Buf::form_c, x);
        prod::affine(z, l.mat(), x, l.vec());
        activation::value_and_derivative(a, z.data(), s.data(), ds.data(), z.size());
        prod::apply(z, l.mat(), xdot);
        if (dl) {
            prod::add_apply(z, T(1), dl->mat(), x);
            z.colwise() += dl->vec();
        }
        z.array() *= ds.array();
        prod::apply_transpose(out, l.mat(), as_const(z), T(-1));
        if (dl) prod::add_transpose(out, T(-1), dl->mat(), as_const(s));
    }
};

}  // namespace resode
