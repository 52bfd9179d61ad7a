// Optimiser steps over a model's parameters in one pass each. In Python a
// step was a dozen NumPy calls, about 100 us for 13,000 parameters: on
// mini-batches of 200 samples a tenth of the kernels' time (measured by
// bench/learner_profile.py). The definitions are in optimisers.cpp.
#pragma once

#include "resode/types.hpp"

namespace resode::optimiser {

// One Adam step (Kingma and Ba, "Adam: a method for stochastic optimization",
// 2015) at step t >= 1 on n values, with the bias corrections c1 = 1 - beta1^t,
// c2 = 1 - beta2^t:
//   m <- beta1 m + (1 - beta1) g,   v <- beta2 v + (1 - beta2) g^2,
//   theta <- theta - (lr / c1) m / (sqrt(v / c2) + eps).
struct Adam {
    double lr, beta1, beta2, eps;
    long long t;
};

template <class T>
void adam(const Adam& step, T* theta, const T* g, T* m, T* v, Index n);

#define RESODE_OPTIMISERS(T, EXTERN) EXTERN template void adam<T>(const Adam&, T*, const T*, T*, T*, Index);
RESODE_OPTIMISERS(float, extern)
RESODE_OPTIMISERS(double, extern)

}  // namespace resode::optimiser
