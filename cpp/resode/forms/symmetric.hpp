// symmetric: f(x) = -V^T s(V x + b)   (gradient flow / ResNet-S; seeds 001, 002)
#pragma once

#include "resode/forms/common.hpp"

namespace resode {

struct Symmetric {
    static constexpr bool kDerivedMatrix = false;
    static constexpr int kCached = 2;  // s(z) and s'(z), z = A x + b

    template <class T>
    static void step(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> xn, T h, Scratch<T>& ws,
                     T* cache = nullptr) {
        MatMap<T> z = ws.t(0), f = ws.t(1);
        prod::affine(z, l.A, x, l.b);
        if (cache) {
            MatMap<T> s(cache, x.rows(), x.cols());
            activation::value_and_derivative(a, z.data(), s.data(), cache + x.size(), z.size());
            prod::apply_transpose(f, l.A, as_const(s));
        } else {
            activation::value(a, z.data(), z.data(), z.size());
            prod::apply_transpose(f, l.A, as_const(z));
        }
        xn.array() = x.array() - h * f.array();
    }

    // u = s'(z) * (A p);  p <- p - h A^T u;  dA = -h (s(z) p^T + u x^T), db = -h u.
    template <class T>
    static void adjoint(const Layer<T>& l, Activation, CMatMap<T> x, MatMap<T> p, RowMap<T> dA,
                        VecMap<T> db, T h, Scratch<T>& ws, const T* cache) {
        const CMatMap<T> s(cache, x.rows(), x.cols()), ds(cache + x.size(), x.rows(), x.cols());
        MatMap<T> u = ws.t(0);
        prod::apply(u, l.A, as_const(p));
        u.array() *= ds.array();
        prod::outer(dA, -h, s, as_const(p));
        prod::outer<true>(dA, -h, as_const(u), x);
        prod::row_sums(db, -h, as_const(u));
        prod::add_transpose(p, -h, l.A, as_const(u));
    }
};

}  // namespace resode
