// symmetric: f(x) = -V^T s(V x + b)   (gradient flow / ResNet-S; seeds 001, 002)
#pragma once

#include "resode/forms/common.hpp"

namespace resode {

struct Symmetric {
    static constexpr bool kDerivedMatrix = false;

    template <class T>
    static void step(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> xn, T h, Scratch<T>& ws) {
        MatMap<T> z = ws.t(0), f = ws.t(1);
        prod::affine(z, l.A, x, l.b);
        activation::value(a, z.data(), z.data(), z.size());
        prod::apply_transpose(f, l.A, as_const(z));
        xn.array() = x.array() - h * f.array();
    }

    // z = A x + b, u = s'(z) * (A p);  p <- p - h A^T u;
    // dA = -h (s(z) p^T + u x^T), db = -h u.
    template <class T>
    static void adjoint(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> p, RowMap<T> dA,
                        VecMap<T> db, T h, Scratch<T>& ws) {
        MatMap<T> z = ws.t(0), s = ws.t(1), u = ws.t(2);
        prod::affine(z, l.A, x, l.b);
        activation::value_and_derivative(a, z.data(), s.data(), u.data(), z.size());
        MatMap<T> ap = z;  // z is no longer needed
        prod::apply(ap, l.A, as_const(p));
        u.array() *= ap.array();
        prod::outer(dA, -h, as_const(s), as_const(p));
        dA.noalias() -= h * (u * x.transpose());
        prod::row_sums(db, -h, as_const(u));
        prod::add_transpose(p, -h, l.A, as_const(u));
    }
};

}  // namespace resode
