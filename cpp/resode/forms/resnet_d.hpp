// resnet_d: f(x) = -A s(K x + b) + c   (ResNet-D of Zhang & Schaeffer 2020: with A >= 0
// entrywise, kept by the training loop's projection, the unbiased system decays).
// Per layer V holds [K, A] and b holds [b, c].
#pragma once

#include "resode/forms/common.hpp"

namespace resode {

struct ResNetD {
    static constexpr int kCached = 2;  // s(z) and s'(z), z = K x + b
    static constexpr Index v_size(Index d) { return 2 * d * d; }
    static constexpr Index b_size(Index d) { return 2 * d; }
    static constexpr Index derived_size(Index) { return 0; }

    template <class T>
    static void field(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> f, Scratch<T>& ws, T* cache) {
        MatMap<T> z = ws.like(Buf::form_a, x);
        prod::affine(z, l.mat(0), x, l.vec(0));
        if (cache) {
            MatMap<T> s(cache, x.rows(), x.cols());
            activation::value_and_derivative(a, z.data(), s.data(), cache + padded_size(x), z.size());
            prod::affine(f, l.mat(1), as_const(s), l.vec(1), T(-1));
        } else {
            activation::value(a, z.data(), z.data(), z.size());
            prod::affine(f, l.mat(1), as_const(z), l.vec(1), T(-1));
        }
    }

    // u = A^T g, delta = -s'(z) * u;  (df/dx)^T g = K^T delta;
    // dK += c delta x^T, db += c delta, dA += -c g s(z)^T, dc += c g
    template <class T>
    static void adjoint(const Layer<T>& l, Activation, CMatMap<T> x, CMatMap<T> g, MatMap<T> out, T c,
                        const LayerGrad<T>& grad, Scratch<T>& ws, const T* cache) {
        const CMatMap<T> s(cache, x.rows(), x.cols()), ds(cache + padded_size(x), x.rows(), x.cols());
        MatMap<T> delta = ws.like(Buf::form_a, x);
        prod::apply_transpose(delta, l.mat(1), g, T(-1));
        delta.array() *= ds.array();
        prod::add_outer(grad.mat(1), -c, g, s);
        prod::add_row_sums(grad.vec(1), c, g);
        prod::add_outer(grad.mat(0), c, as_const(delta), x);
        prod::add_row_sums(grad.vec(0), c, as_const(delta));
        prod::add_transpose(out, c, l.mat(0), as_const(delta));
    }

    // -A (s'(z) * (K xdot + dK x + db)) - dA s(z) + dc
    template <class T>
    static void jvp(const Layer<T>& l, const Layer<T>* dl, Activation a, CMatMap<T> x, CMatMap<T> xdot, MatMap<T> out,
                    Scratch<T>& ws) {
        MatMap<T> z = ws.like(Buf::form_a, x), s = ws.like(Buf::form_b, x), ds = ws.like(Buf::form_c, x);
        prod::affine(z, l.mat(0), x, l.vec(0));
        activation::value_and_derivative(a, z.data(), s.data(), ds.data(), z.size());
        prod::apply(z, l.mat(0), xdot);
        if (dl) {
            prod::add_apply(z, T(1), dl->mat(0), x);
            z.colwise() += dl->vec(0);
        }
        z.array() *= ds.array();
        prod::apply(out, l.mat(1), as_const(z), T(-1));
        if (dl) {
            prod::add_apply(out, T(-1), dl->mat(1), as_const(s));
            out.colwise() += dl->vec(1);
        }
    }
};

}  // namespace resode
