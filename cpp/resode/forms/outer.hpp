// outer: f(x) = s(V x + b)   (E; Haber & Ruthotto; seeds 000, 003)
#pragma once

#include "resode/forms/common.hpp"

namespace resode {

struct Outer {
    static constexpr bool kDerivedMatrix = false;
    static constexpr int kCached = 1;  // s'(A x + b), kept by step() for adjoint()

    template <class T>
    static void step(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> xn, T h, Scratch<T>& ws,
                     T* cache = nullptr) {
        MatMap<T> z = ws.t(0);
        prod::affine(z, l.A, x, l.b);
        if (cache) {
            MatMap<T> s = ws.t(1);
            activation::value_and_derivative(a, z.data(), s.data(), cache, z.size());
            xn.array() = x.array() + h * s.array();
        } else {
            activation::value(a, z.data(), z.data(), z.size());
            xn.array() = x.array() + h * z.array();
        }
    }

    // delta = s'(A x + b) * p;  p <- p + h A^T delta;  dA = h delta x^T, db = h delta.
    template <class T>
    static void adjoint(const Layer<T>& l, Activation, CMatMap<T> x, MatMap<T> p, RowMap<T> dA,
                        VecMap<T> db, T h, Scratch<T>& ws, const T* cache) {
        MatMap<T> delta = ws.t(0);
        delta.array() = CMatMap<T>(cache, x.rows(), x.cols()).array() * p.array();
        prod::outer(dA, h, as_const(delta), x);
        prod::row_sums(db, h, as_const(delta));
        prod::add_transpose(p, h, l.A, as_const(delta));
    }
};

}  // namespace resode
