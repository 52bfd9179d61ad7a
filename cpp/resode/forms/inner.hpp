// inner: f(x) = V s(x) + b   (neural-ODE lecture notes, seed 004)
#pragma once

#include "resode/forms/common.hpp"

namespace resode {

struct Inner {
    static constexpr bool kDerivedMatrix = false;
    static constexpr int kCached = 1;  // s(x), kept by step() for adjoint()

    // xn = x + h f(x); xn may alias x. With a cache, also keeps s(x) there.
    template <class T>
    static void step(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> xn, T h, Scratch<T>& ws,
                     T* cache = nullptr) {
        MatMap<T> s = cache ? MatMap<T>(cache, x.rows(), x.cols()) : ws.t(0), f = ws.t(1);
        activation::value(a, x.data(), s.data(), x.size());
        prod::affine(f, l.A, as_const(s), l.b);
        xn.array() = x.array() + h * f.array();
    }

    // p <- p + h (df/dx)^T p, with the block's parameter gradients
    // dA = h sum_i p s(x)^T, db = h sum_i p, taken before p is updated.
    template <class T>
    static void adjoint(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> p, RowMap<T> dA,
                        VecMap<T> db, T h, Scratch<T>& ws, const T* cache) {
        const CMatMap<T> s(cache, x.rows(), x.cols());
        MatMap<T> ds = ws.t(1), vtp = ws.t(2);
        activation::derivative_from_value(a, x.data(), s.data(), ds.data(), x.size());
        prod::outer(dA, h, as_const(p), s);
        prod::row_sums(db, h, as_const(p));
        prod::apply_transpose(vtp, l.A, as_const(p));
        p.array() += h * ds.array() * vtp.array();
    }
};

}  // namespace resode
