// The opening layer of opening.hpp, for float and double.
#include "resode/opening.hpp"

#include "resode/activations.hpp"

#include <algorithm>
#include <vector>

namespace resode::opening {

// Plain loops whose innermost runs along a contiguous row (vectorised), each
// value summed in the order of its terms: the results must not depend on where
// the caller's arrays sit in memory (Eigen's products take other paths at other
// alignments, and k partial_fit calls must equal a fit of k epochs bitwise).

template <class T>
void forward(Activation s0, const T* X, Index N, Index p, const T* K0, const T* c0, Index d, T* z, T* x1) {
    std::vector<T> K0t(static_cast<std::size_t>(p * d));  // K0^T: row k holds K0[:, k]
    for (Index j = 0; j < d; ++j)
        for (Index k = 0; k < p; ++k) K0t[k * d + j] = K0[j * p + k];
    for (Index i = 0; i < N; ++i) {
        T* zi = z + i * d;
        std::copy(c0, c0 + d, zi);
        for (Index k = 0; k < p; ++k) {
            const T xik = X[i * p + k];
            const T* row = K0t.data() + k * d;
            for (Index j = 0; j < d; ++j) zi[j] += xik * row[j];
        }
    }
    if (s0 != Activation::Identity) activation::value(s0, z, x1, N * d);
}

template <class T>
void backward(Activation s0, const T* X, Index N, Index p, const T* K0, const T* c0, Index d, const T* z, T* q,
              T weight, T* dK0, T* dc0, T* dX) {
    if (s0 != Activation::Identity) {
        std::vector<T> ds(static_cast<std::size_t>(N * d));
        activation::derivative(s0, z, ds.data(), N * d);
        for (Index e = 0; e < N * d; ++e) q[e] *= ds[static_cast<std::size_t>(e)];
    }
    std::fill(dK0, dK0 + d * p, T(0));
    std::fill(dc0, dc0 + d, T(0));
    for (Index i = 0; i < N; ++i) {
        const T* qi = q + i * d;
        const T* xi = X + i * p;
        for (Index j = 0; j < d; ++j) {
            dc0[j] += qi[j];
            T* gj = dK0 + j * p;
            for (Index k = 0; k < p; ++k) gj[k] += qi[j] * xi[k];
        }
        if (dX) {
            T* out = dX + i * p;
            std::fill(out, out + p, T(0));
            for (Index j = 0; j < d; ++j)
                for (Index k = 0; k < p; ++k) out[k] += qi[j] * K0[j * p + k];
        }
    }
    for (Index e = 0; e < d * p; ++e) dK0[e] += weight * K0[e];
    for (Index j = 0; j < d; ++j) dc0[j] += weight * c0[j];
}

RESODE_OPENING(float, )
RESODE_OPENING(double, )

}  // namespace resode::opening
