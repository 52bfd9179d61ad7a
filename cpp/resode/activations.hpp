// Elementwise activations s and their derivatives s'. The activation is chosen
// once per call (a switch outside the loop); each case is one vectorised Eigen
// array expression over a contiguous block. At kinks the left derivative is
// used, as PyTorch does: relu'(0) = 0, leaky_relu'(0) = 0.01.
#pragma once

#include "resode/types.hpp"

#include <type_traits>

namespace resode::activation {

template <class T> using Arr = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T> using CArr = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

inline constexpr double kLeakySlope = 0.01;

// tanh in double, vectorised. Eigen 3.4 vectorises tanh for float only, and
// scalar libm tanh took two thirds of the run time at small d. For |x| < 0.625
// Cephes' rational approximation x + x^3 P(x^2) / Q(x^2) (as in its tanh.c);
// above, 1 - 2 / (e^{2|x|} + 1) with Eigen's vectorised exp, which does not
// cancel there. With WithDerivative, s' = t (2 - t) from the same t =
// 2 / (e^{2|x|} + 1) = 1 - tanh|x|, accurate in saturation where 1 - s^2 loses
// its relative precision. Agrees with libm to
// 2 ulp (tests/test_activations.py). Works on fixed-size chunks on the stack.
template <bool WithDerivative, class In, class Out>
void tanh_double_chunk(const In& x, Out&& s, double* ds) {
    static constexpr double P0 = -9.64399179425052238628e-1, P1 = -9.92877231001918586564e1,
                            P2 = -1.61468768441708447952e3;
    static constexpr double Q1 = 1.12811678491632931402e2, Q2 = 2.23548839060100448583e3,
                            Q3 = 4.84406305325125486048e3;
    using A = Eigen::Array<double, Eigen::Dynamic, 1, 0, In::MaxRowsAtCompileTime, 1>;
    const A z = x * x;
    const A small = x + x * z * (((P0 * z + P1) * z + P2) / (((z + Q1) * z + Q2) * z + Q3));
    // s from the same operations with or without s', so that it is bitwise the same either way
    if constexpr (WithDerivative) {
        const A t = 2.0 / ((2.0 * x.abs()).exp() + 1.0);  // 1 - tanh|x|
        const A large = 1.0 - t;
        const auto near_zero = (x.abs() < 0.625).eval();
        s = near_zero.select(small, (x < 0.0).select(-large, large));
        Eigen::Map<A>(ds, x.size()) = near_zero.select(1.0 - s * s, t * (2.0 - t));
    } else {
        const A large = 1.0 - 2.0 / ((2.0 * x.abs()).exp() + 1.0);
        s = (x.abs() < 0.625).select(small, (x < 0.0).select(-large, large));
    }
}

template <bool WithDerivative>
void tanh_double(const double* x, double* s, double* ds, Index n) {
    constexpr Index C = 64;
    using Chunk = Eigen::Array<double, C, 1>;
    using Tail = Eigen::Array<double, Eigen::Dynamic, 1, 0, C, 1>;
    Index i = 0;
    for (; i + C <= n; i += C)
        tanh_double_chunk<WithDerivative>(Chunk(Eigen::Map<const Chunk>(x + i)), Eigen::Map<Chunk>(s + i), ds + i);
    if (i < n)
        tanh_double_chunk<WithDerivative>(Tail(Eigen::Map<const Tail>(x + i, n - i)),
                                          Eigen::Map<Tail>(s + i, n - i), ds + i);
}

template <class T>
void tanh_values(const T* x, T* s, Index n) {
    if constexpr (std::is_same_v<T, double>)
        tanh_double<false>(x, s, nullptr, n);
    else
        Arr<T>(s, n) = CArr<T>(x, n).tanh();
}

// s = s(x) over n values; s may alias x.
template <class T>
void value(Activation a, const T* x_, T* s_, Index n) {
    CArr<T> x(x_, n);
    Arr<T> s(s_, n);
    const T slope = T(kLeakySlope);
    switch (a) {
        case Activation::Tanh: tanh_values(x_, s_, n); break;
        case Activation::Relu: s = x.max(T(0)); break;
        case Activation::Sigmoid: {  // as value_and_derivative computes it, bit for bit
            const Eigen::Array<T, Eigen::Dynamic, 1> e = (-x.abs()).exp();
            s = (x >= T(0)).select(T(1) / (T(1) + e), e / (T(1) + e));
            break;
        }
        // log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)
        case Activation::Softplus: s = x.max(T(0)) + (-x.abs()).exp().log1p(); break;
        case Activation::LeakyRelu: s = (x > T(0)).select(x, slope * x); break;
        case Activation::Identity: if (s_ != x_) s = x; break;
    }
}

// ds = s'(x) over n values; ds may alias x.
template <class T>
void derivative(Activation a, const T* x_, T* ds_, Index n) {
    CArr<T> x(x_, n);
    Arr<T> ds(ds_, n);
    const T slope = T(kLeakySlope);
    using Ones = Eigen::Array<T, Eigen::Dynamic, 1>;
    switch (a) {
        case Activation::Tanh: ds = T(4) * (T(-2) * x.abs()).exp() / (T(1) + (T(-2) * x.abs()).exp()).square(); break;
        case Activation::Relu: ds = (x > T(0)).template cast<T>(); break;
        case Activation::Sigmoid: ds = (-x.abs()).exp() / (T(1) + (-x.abs()).exp()).square(); break;
        case Activation::Softplus: ds = x.logistic(); break;
        case Activation::LeakyRelu: ds = (x > T(0)).select(Ones::Constant(n, T(1)), Ones::Constant(n, slope)); break;
        case Activation::Identity: ds.setOnes(); break;
    }
}

// ds = s'(x) given s = s(x), without another transcendental function: the
// inner form's backward sweep reuses the forward sweep's values this way, as
// PyTorch and JAX do for tanh (1 - s^2). That is accurate to a few 1e-16
// absolutely; only where s' itself is tiny (saturation) is it less accurate
// relatively than value_and_derivative below, which caching s' too would buy
// at 13-34 % of the run time of a small-d gradient (measured).
template <class T>
void derivative_from_value(Activation a, const T* x_, const T* s_, T* ds_, Index n) {
    CArr<T> s(s_, n);
    Arr<T> ds(ds_, n);
    switch (a) {
        case Activation::Tanh: ds = T(1) - s.square(); break;
        case Activation::Sigmoid: ds = s * (T(1) - s); break;
        case Activation::Softplus: ds = T(1) - (-s).exp(); break;  // 1 - 1/(1+e^x) = sigmoid(x)
        default: derivative(a, x_, ds_, n); break;                  // cheap piecewise-linear ones
    }
}

// s = s(x) and ds = s'(x) in one pass. tanh and sigmoid take ds from the same
// exponential as s, so it keeps full relative precision in saturation (where
// 1 - s^2 or s (1 - s) would cancel); neither output may alias x.
template <class T>
void value_and_derivative(Activation a, const T* x_, T* s_, T* ds_, Index n) {
    CArr<T> x(x_, n);
    Arr<T> s(s_, n);
    Arr<T> ds(ds_, n);
    switch (a) {
        case Activation::Tanh:
            if constexpr (std::is_same_v<T, double>) {
                tanh_double<true>(x_, s_, ds_, n);
            } else {
                s = x.tanh();
                ds = T(4) * (T(-2) * x.abs()).exp() / (T(1) + (T(-2) * x.abs()).exp()).square();
            }
            break;
        case Activation::Sigmoid: {
            // e = exp(-|x|): s = 1/(1+e) or e/(1+e), s' = e/(1+e)^2
            ds = (-x.abs()).exp();
            s = (x >= T(0)).select(T(1) / (T(1) + ds), ds / (T(1) + ds));
            ds = ds / (T(1) + ds).square();
            break;
        }
        default:
            value(a, x_, s_, n);
            derivative(a, x_, ds_, n);
            break;
    }
}

}  // namespace resode::activation
