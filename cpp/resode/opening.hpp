// The opening layer of a model, x_1 = s0(K0 x + c0) (Haber and Ruthotto 2017),
// over N samples of p inputs, and its adjoint. In NumPy its products and adds
// cost about 130 us a training step of 200 samples at p = 20, d = 48, a tenth
// of the kernels' time (measured by bench/learner_profile.py). Arrays are the
// caller's C-order (N, p), (d, p), (N, d). The definitions are in opening.cpp.
#pragma once

#include "resode/types.hpp"

namespace resode::opening {

// z = X K0^T + c0 (N x d); x1 = s0(z), unless s0 is the identity (then x1 is
// not written: x_1 = z).
template <class T>
void forward(Activation s0, const T* X, Index N, Index p, const T* K0, const T* c0, Index d, T* z, T* x1);

// From the costate p_1 = dJ/dx_1 (N x d; overwritten with q = p_1 * s0'(z)):
// dK0 = q^T X + w K0, dc0 = sum_i q_i + w c0, and, when dX is given, the inputs'
// gradient dX = q K0 (N x p).
template <class T>
void backward(Activation s0, const T* X, Index N, Index p, const T* K0, const T* c0, Index d, const T* z, T* q,
              T weight, T* dK0, T* dc0, T* dX);

#define RESODE_OPENING(T, EXTERN)                                                                                    \
    EXTERN template void forward<T>(Activation, const T*, Index, Index, const T*, const T*, Index, T*, T*);          \
    EXTERN template void backward<T>(Activation, const T*, Index, Index, const T*, const T*, Index, const T*, T*, T, \
                                     T*, T*, T*);
RESODE_OPENING(float, extern)
RESODE_OPENING(double, extern)

}  // namespace resode::opening
