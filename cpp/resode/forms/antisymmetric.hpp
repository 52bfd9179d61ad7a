// antisymmetric: f(x) = s((V - V^T - gamma I) x + b)   (Haber & Ruthotto's
// stable ResNet, seed 001). It is the outer form with a derived matrix, so
// only the matrix and the chain rule back to V are new here.
#pragma once

#include "resode/forms/outer.hpp"

namespace resode {

struct Antisymmetric {
    static constexpr bool kDerivedMatrix = true;
    static constexpr int kCached = Outer::kCached;

    template <class T>
    static void derived_matrix(CRowMap<T> V, T gamma, RowMap<T> A) {
        A = V - V.transpose();
        A.diagonal().array() -= gamma;
    }

    template <class T>
    static void step(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> xn, T h, Scratch<T>& ws,
                     T* cache = nullptr) {
        Outer::step(l, a, x, xn, h, ws, cache);
    }

    // dJ/dA = M gives dJ/dV = M - M^T, since A_ij = V_ij - V_ji.
    template <class T>
    static void adjoint(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> p, RowMap<T> dV,
                        VecMap<T> db, T h, Scratch<T>& ws, const T* cache) {
        RowMap<T> dA(ws.dd.data(), ws.dd.rows(), ws.dd.cols());
        Outer::adjoint(l, a, x, p, dA, db, h, ws, cache);
        dV = dA - dA.transpose();
    }
};

}  // namespace resode
