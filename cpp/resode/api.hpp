// Entry points of the kernels, instantiated for float and double in
// kernels_f32.cpp / kernels_f64.cpp (so the two compile in parallel).
#pragma once

#include "resode/parallel.hpp"
#include "resode/types.hpp"

namespace resode {

// x_{L+1} for every sample (out: (N, d)), or the whole trajectory (out: (L+1, N, d)).
template <class T>
void forward(const Network<T>& net, const T* X, Index N, T* out, bool trajectory, const RunOptions& opt);

// The cost J; with grads also dJ/dV, dJ/db (and dJ/dW, dJ/dmu, dJ/dX where asked).
// checkpoint_every = c > 0 stores every c-th state and recomputes the rest.
template <class T>
double cost(const Network<T>& net, const Cost<T>& cost, const T* X, Index N, const Gradients<T>* grads,
            const RunOptions& opt, Index checkpoint_every = 0);

}  // namespace resode
