// The matrix products of products.hpp, for float and double.
#include "resode/products.hpp"

#include <type_traits>

namespace resode::prod {
namespace {

// For d <= 8 the products run sample by sample with fixed-size D x D matrices
// (unrolled, vectorised over D): at tiny d, packing for Eigen's GEMM cost more
// than the arithmetic. The dimension is dispatched once per call; d = 16 gained
// nothing (measured), so larger d use GEMM.
template <class Fn>
bool with_small_dim(Index d, Fn&& fn) {
    switch (d) {
        case 1: fn(std::integral_constant<int, 1>{}); return true;
        case 2: fn(std::integral_constant<int, 2>{}); return true;
        case 3: fn(std::integral_constant<int, 3>{}); return true;
        case 4: fn(std::integral_constant<int, 4>{}); return true;
        case 5: fn(std::integral_constant<int, 5>{}); return true;
        case 6: fn(std::integral_constant<int, 6>{}); return true;
        case 7: fn(std::integral_constant<int, 7>{}); return true;
        case 8: fn(std::integral_constant<int, 8>{}); return true;
        default: return false;
    }
}

// The small-d kernels are plain loops over fixed-size arrays, which the
// compiler unrolls and vectorises: Eigen's fixed-size expressions did the same
// but instantiated so much code per size that this file dominated the build.

// out_j = M x_j + c, or out_j += M x_j (Add), for the n columns (samples) x_j;
// M[r][k] row by row. M x_j is summed over k in order, then c or out_j added.
template <class T, int D, bool Add>
void small_columns(T* __restrict out, const T (&M)[D][D], const T* __restrict x, Index n, const T (&c)[D]) {
    for (Index j = 0; j < n; ++j) {
        const T* xj = x + j * D;
        T* oj = out + j * D;
        T p[D];
        for (int r = 0; r < D; ++r) p[r] = M[r][0] * xj[0];
        for (int k = 1; k < D; ++k)
            for (int r = 0; r < D; ++r) p[r] += M[r][k] * xj[k];
        for (int r = 0; r < D; ++r) oj[r] = Add ? oj[r] + p[r] : p[r] + c[r];
    }
}

// out_j = M x_j + c (c: zero when null), or out_j += M x_j, for every column
// (sample) j, with M = alpha A or alpha A^T; false when d is not small.
template <class T>
bool small_product(MatMap<T> out, CRowMap<T> A, bool transposed, T alpha, CMatMap<T> x, const T* c, bool add) {
    return with_small_dim(A.rows(), [&](auto D_) {
        constexpr int D = D_();
        T M[D][D], shift[D];
        for (int r = 0; r < D; ++r) {
            for (int k = 0; k < D; ++k) M[r][k] = alpha * (transposed ? A(k, r) : A(r, k));
            shift[r] = c ? c[r] : T(0);
        }
        if (add)
            small_columns<T, D, true>(out.data(), M, x.data(), x.cols(), shift);
        else
            small_columns<T, D, false>(out.data(), M, x.data(), x.cols(), shift);
    });
}

}  // namespace

template <class T>
void affine(MatMap<T> out, CRowMap<T> A, CMatMap<T> x, CVecMap<T> b, T alpha) {
    if (small_product<T>(out, A, false, alpha, x, b.data(), false)) return;
    if (alpha == T(1))
        out.noalias() = A * x;
    else
        out.noalias() = (alpha * A) * x;
    out.colwise() += b;
}

template <class T>
void apply(MatMap<T> out, CRowMap<T> A, CMatMap<T> p, T alpha) {
    if (small_product<T>(out, A, false, alpha, p, nullptr, false)) return;
    if (alpha == T(1))
        out.noalias() = A * p;
    else
        out.noalias() = (alpha * A) * p;
}

template <class T>
void apply_transpose(MatMap<T> out, CRowMap<T> A, CMatMap<T> p, T alpha) {
    if (small_product<T>(out, A, true, alpha, p, nullptr, false)) return;
    if (alpha == T(1))
        out.noalias() = A.transpose() * p;
    else
        out.noalias() = (alpha * A.transpose()) * p;
}

template <class T>
void add_apply(MatMap<T> out, T alpha, CRowMap<T> A, CMatMap<T> p) {
    if (small_product<T>(out, A, false, alpha, p, nullptr, true)) return;
    out.noalias() += alpha * (A * p);
}

template <class T>
void add_transpose(MatMap<T> out, T alpha, CRowMap<T> A, CMatMap<T> p) {
    if (small_product<T>(out, A, true, alpha, p, nullptr, true)) return;
    out.noalias() += alpha * (A.transpose() * p);
}

// For small d, four columns at a time as one fixed-size D x 4 by 4 x D
// product: a column at a time chained every sample's adds on the previous one
// (their latency per sample); measured 1.5-4x faster for this loop at d = 2, 4
// and 8, the same at d = 3. (Four separate accumulators instead were 1.3x
// slower in float32.)
template <class T>
void add_outer(RowMap<T> g, T alpha, CMatMap<T> u, CMatMap<T> v) {
    if (u.rows() == v.rows() && with_small_dim(u.rows(), [&](auto D_) {
            constexpr int D = D_();
            const T* us = u.data();
            const T* vs = v.data();
            const Index n = u.cols();
            T acc[D][D] = {};
            Index j = 0;
            for (; j + 4 <= n; j += 4) {
                const T *u0 = us + j * D, *v0 = vs + j * D;
                for (int r = 0; r < D; ++r)
                    for (int c = 0; c < D; ++c)
                        acc[r][c] += u0[r] * v0[c] + u0[D + r] * v0[D + c] + u0[2 * D + r] * v0[2 * D + c] +
                                     u0[3 * D + r] * v0[3 * D + c];
            }
            for (; j < n; ++j)
                for (int r = 0; r < D; ++r)
                    for (int c = 0; c < D; ++c) acc[r][c] += us[j * D + r] * vs[j * D + c];
            for (int r = 0; r < D; ++r)
                for (int c = 0; c < D; ++c) g(r, c) += alpha * acc[r][c];
        }))
        return;
    g.noalias() += alpha * (u * v.transpose());
}

// For small d the columns go into four partial sums, added in a fixed order at
// the end: one accumulator chains every column's add on the previous one (an
// add's latency per sample); four run in parallel (8-15x faster for this loop,
// measured). The order depends on the column count only: results stay
// independent of the thread count.
template <class T>
void add_row_sums(VecMap<T> g, T alpha, CMatMap<T> u) {
    if (with_small_dim(u.rows(), [&](auto D_) {
            constexpr int D = D_();
            const T* us = u.data();
            const Index n = u.cols();
            T a[4][D] = {};
            Index j = 0;
            for (; j + 4 <= n; j += 4)
                for (int q = 0; q < 4; ++q)
                    for (int r = 0; r < D; ++r) a[q][r] += us[(j + q) * D + r];
            for (; j < n; ++j)
                for (int r = 0; r < D; ++r) a[0][r] += us[j * D + r];
            for (int r = 0; r < D; ++r) g(r) += alpha * ((a[0][r] + a[1][r]) + (a[2][r] + a[3][r]));
        }))
        return;
    g.noalias() += alpha * u.rowwise().sum();
}

RESODE_PRODUCTS(float, )
RESODE_PRODUCTS(double, )

}  // namespace resode::prod
