// antisymmetric: f(x) = s((V - V^T - gamma I) x + b)   (Haber & Ruthotto's
// stable ResNet, 2017). It is the outer form with a derived matrix, so
// only the matrix and the chain rule back to V are new here.
#pragma once

#include "resode/forms/outer.hpp"

namespace resode {

struct Antisymmetric {
    static constexpr int kCached = Outer::kCached;
    static constexpr Index v_size(Index d) { return d * d; }
    static constexpr Index b_size(Index d) { return d; }
    static constexpr Index derived_size(Index d) { return d * d; }

    template <class T>
    static void derive(const T* V, T gamma, Index d, T* D) {
        const CRowMap<T> v(V, d, d);
        RowMap<T> A(D, d, d);
        A = v - v.transpose();
        A.diagonal().array() -= gamma;
    }

    template <class T>
    static void field(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> f, Scratch<T>& ws, T* cache) {
        Outer::field(l, a, x, f, ws, cache);
    }

    // dJ/dA = M gives dJ/dV = M - M^T, since A_ij = V_ij - V_ji.
    template <class T>
    static void adjoint(const Layer<T>& l, Activation a, CMatMap<T> x, CMatMap<T> g, MatMap<T> out, T c,
                        const LayerGrad<T>& grad, Scratch<T>& ws, const T* cache) {
        ws.dd.setZero();
        Outer::adjoint(l, a, x, g, out, c, LayerGrad<T>{ws.dd.data(), grad.b, grad.d}, ws, cache);
        grad.mat() += ws.dd - ws.dd.transpose();
    }

    // dl->D is the derived direction dV - dV^T (derived with gamma = 0)
    template <class T>
    static void jvp(const Layer<T>& l, const Layer<T>* dl, Activation a, CMatMap<T> x, CMatMap<T> xdot, MatMap<T> out,
                    Scratch<T>& ws) {
        Outer::jvp(l, dl, a, x, xdot, out, ws);
    }
};

}  // namespace resode
