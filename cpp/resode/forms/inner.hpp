// inner: f(x) = V s(x) + b   (Veldman's neural-ODE lecture notes)
#pragma once

#include "resode/forms/common.hpp"

namespace resode {

// Every form has the same members (the schemes and sweeps use nothing else):
//   kCached            d x n arrays that field() keeps for adjoint()
//   v_size(d), b_size(d), derived_size(d)   entries per layer of V, b and D
//   field(l, a, x, f, ws, cache)            f = f(x) (cache may be null)
//   adjoint(l, a, x, g, out, c, grad, ws, cache)
//                      out += c (df/dx)^T g and grad += c (df/dtheta)^T g;
//                      g may alias out
//   jvp(l, dl, a, x, xdot, out, ws)         out = (df/dx) xdot + (df/dtheta) dl
//                      (dl: a direction in parameter space, or null)
struct Inner {
    static constexpr int kCached = 1;  // s(x)
    static constexpr Index v_size(Index d) { return d * d; }
    static constexpr Index b_size(Index d) { return d; }
    static constexpr Index derived_size(Index) { return 0; }

    template <class T>
    static void field(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> f, Scratch<T>& ws, T* cache) {
        MatMap<T> s = cache ? MatMap<T>(cache, x.rows(), x.cols()) : ws.like(Buf::form_a, x);
        activation::value(a, x.data(), s.data(), x.size());
        prod::affine(f, l.mat(), as_const(s), l.vec());
    }

    // x + h f(x) in one pass over the block (Euler's step, schemes.hpp): at small d
    // the field's product and the step's update were two passes over memory
    template <class T>
    static void euler_step(const Layer<T>& l, Activation a, CMatMap<T> x, MatMap<T> xn, T h, Scratch<T>& ws, T* cache) {
        MatMap<T> s = cache ? MatMap<T>(cache, x.rows(), x.cols()) : ws.like(Buf::form_a, x);
        activation::value(a, x.data(), s.data(), x.size());
        prod::euler_affine(xn, l.mat(), as_const(s), l.vec(), h, x, ws.like(Buf::stage, x));
    }

    // (df/dx)^T g = s'(x) * (V^T g);  dV += c g s(x)^T, db += c g
    template <class T>
    static void adjoint(const Layer<T>& l, Activation a, CMatMap<T> x, CMatMap<T> g, MatMap<T> out, T c,
                        const LayerGrad<T>& grad, Scratch<T>& ws, const T* cache) {
        const CMatMap<T> s(cache, x.rows(), x.cols());
        MatMap<T> ds = ws.like(Buf::form_b, x), vtg = ws.like(Buf::form_c, x);
        activation::derivative_from_value(a, x.data(), s.data(), ds.data(), x.size());
        prod::add_outer(grad.mat(), c, g, s);
        prod::add_row_sums(grad.vec(), c, g);
        prod::apply_transpose(vtg, l.mat(), g);
        out.array() += c * ds.array() * vtg.array();
    }

    template <class T>
    static void jvp(const Layer<T>& l, const Layer<T>* dl, Activation a, CMatMap<T> x, CMatMap<T> xdot, MatMap<T> out,
                    Scratch<T>& ws) {
        MatMap<T> s = ws.like(Buf::form_a, x), ds = ws.like(Buf::form_b, x);
        activation::value_and_derivative(a, x.data(), s.data(), ds.data(), x.size());
        ds.array() *= xdot.array();
        prod::apply(out, l.mat(), as_const(ds));
        if (dl) {
            prod::add_apply(out, T(1), dl->mat(), as_const(s));
            out.colwise() += dl->vec();
        }
    }
};

}  // namespace resode
