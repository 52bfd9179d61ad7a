// Elementwise activations s and their derivatives s'. The activation is chosen
// once per call (a switch outside the loop); each case is one vectorised Eigen
// array expression over a contiguous block. At kinks the left derivative is
// used, as PyTorch does: relu'(0) = 0, leaky_relu'(0) = 0.01.
#pragma once

#include "resode/types.hpp"

namespace resode::activation {

template <class T> using Arr = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T> using CArr = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

inline constexpr double kLeakySlope = 0.01;

// s = s(x) over n values; s may alias x.
template <class T>
void value(Activation a, const T* x_, T* s_, Index n) {
    CArr<T> x(x_, n);
    Arr<T> s(s_, n);
    const T slope = T(kLeakySlope);
    switch (a) {
        case Activation::Tanh: s = x.tanh(); break;
        case Activation::Relu: s = x.max(T(0)); break;
        case Activation::Sigmoid: s = x.logistic(); break;
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
        case Activation::Tanh: ds = T(1) - x.tanh().square(); break;
        case Activation::Relu: ds = (x > T(0)).template cast<T>(); break;
        case Activation::Sigmoid: ds = x.logistic() * (T(1) - x.logistic()); break;
        case Activation::Softplus: ds = x.logistic(); break;
        case Activation::LeakyRelu: ds = (x > T(0)).select(Ones::Constant(n, T(1)), Ones::Constant(n, slope)); break;
        case Activation::Identity: ds.setOnes(); break;
    }
}

// s = s(x) and ds = s'(x) in one pass where the derivative follows from the
// value (tanh, sigmoid); neither output may alias x.
template <class T>
void value_and_derivative(Activation a, const T* x_, T* s_, T* ds_, Index n) {
    Arr<T> s(s_, n);
    Arr<T> ds(ds_, n);
    switch (a) {
        case Activation::Tanh:
            value(a, x_, s_, n);
            ds = T(1) - s.square();
            break;
        case Activation::Sigmoid:
            value(a, x_, s_, n);
            ds = s * (T(1) - s);
            break;
        default:
            value(a, x_, s_, n);
            derivative(a, x_, ds_, n);
            break;
    }
}

}  // namespace resode::activation
