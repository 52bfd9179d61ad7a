// Elementwise activations s and their derivatives s'. The activation is chosen
// once per call (a switch outside the loop); each case is one vectorised Eigen
// array expression over a contiguous block (double tanh: a loop written for
// the compiler to vectorise). At kinks the left derivative is
// used, as PyTorch does: relu'(0) = 0, leaky_relu'(0) = 0.01.
#pragma once

#include "resode/types.hpp"

namespace resode::activation {

inline constexpr double kLeakySlope = 0.01;

// Each runs over n contiguous values; the definitions (activations.cpp) are
// compiled once rather than in every form's translation unit.

// s = s(x); s may alias x.
template <class T>
void value(Activation a, const T* x, T* s, Index n);

// ds = s'(x); ds may alias x.
template <class T>
void derivative(Activation a, const T* x, T* ds, Index n);

// ds = s'(x) given s = s(x), without another transcendental function: the
// inner form's backward sweep reuses the forward sweep's values this way, as
// PyTorch and JAX do for tanh (1 - s^2). That is accurate to a few 1e-16
// absolutely; only where s' itself is tiny (saturation) is it less accurate
// relatively than value_and_derivative below, which caching s' too would buy
// at 13-34 % of the run time of a small-d gradient (measured).
template <class T>
void derivative_from_value(Activation a, const T* x, const T* s, T* ds, Index n);

// s = s(x) and ds = s'(x) in one pass. tanh and sigmoid take ds from the same
// exponential as s, so it keeps full relative precision in saturation (where
// 1 - s^2 or s (1 - s) would cancel); neither output may alias x.
template <class T>
void value_and_derivative(Activation a, const T* x, T* s, T* ds, Index n);

#define RESODE_ACTIVATIONS(T, EXTERN)                                                         \
    EXTERN template void value<T>(Activation, const T*, T*, Index);                           \
    EXTERN template void derivative<T>(Activation, const T*, T*, Index);                      \
    EXTERN template void derivative_from_value<T>(Activation, const T*, const T*, T*, Index); \
    EXTERN template void value_and_derivative<T>(Activation, const T*, T*, T*, Index);
RESODE_ACTIVATIONS(float, extern)
RESODE_ACTIVATIONS(double, extern)

}  // namespace resode::activation
