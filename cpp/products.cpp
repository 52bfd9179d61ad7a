// The matrix products of products.hpp, for float and double.
#include "resode/products.hpp"

#include <type_traits>

namespace resode::prod {
namespace {

// For d <= 8 the products are fixed-size D x D loops vectorised across the
// block's samples: at tiny d, packing for Eigen's GEMM costs more than the
// arithmetic. The dimension is dispatched once per call; larger d use GEMM.
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
// compiler unrolls and vectorises across samples (a block's rows are
// contiguous: types.hpp): Eigen's fixed-size expressions did the same but
// instantiated so much code per size that this file dominated the build.

// Row r of out = M row r times x + c_r, or out row r += M row r times x (Add),
// for the n columns (samples); M[r][k]. Each value is summed over k in order,
// then c or out added.
template <class T, int D, bool Add>
void small_rows(T* __restrict out, const T (&M)[D][D], const T* __restrict x, Index n, const T (&c)[D]) {
    for (Index j = 0; j < n; ++j) {
        for (int r = 0; r < D; ++r) {
            T p = M[r][0] * x[j];
            for (int k = 1; k < D; ++k) p += M[r][k] * x[k * n + j];
            out[r * n + j] = Add ? out[r * n + j] + p : p + c[r];
        }
    }
}

// Row r of xn = row r of x + h (M row r times s + c_r): a forward Euler step of
// an affine field in one pass. In place (xn = x) or not; the two loops are
// separate so that each vectorises without a run-time alias check.
template <class T, int D>
void small_euler_rows(T* __restrict xn, const T* __restrict x, const T (&M)[D][D], const T* __restrict s, Index n,
                      const T (&c)[D], T h) {
    for (Index j = 0; j < n; ++j)
        for (int r = 0; r < D; ++r) {
            T p = M[r][0] * s[j];
            for (int k = 1; k < D; ++k) p += M[r][k] * s[k * n + j];
            xn[r * n + j] = x[r * n + j] + h * (p + c[r]);
        }
}
template <class T, int D>
void small_euler_rows_in_place(T* __restrict x, const T (&M)[D][D], const T* __restrict s, Index n, const T (&c)[D],
                               T h) {
    for (Index j = 0; j < n; ++j)
        for (int r = 0; r < D; ++r) {
            T p = M[r][0] * s[j];
            for (int k = 1; k < D; ++k) p += M[r][k] * s[k * n + j];
            x[r * n + j] = x[r * n + j] + h * (p + c[r]);
        }
}

// out = M x + c (c: zero when null), or out += M x, with M = alpha A or
// alpha A^T; false when d is not small.
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
            small_rows<T, D, true>(out.data(), M, x.data(), x.cols(), shift);
        else
            small_rows<T, D, false>(out.data(), M, x.data(), x.cols(), shift);
    });
}

// Sums over the n samples of a block run in SIMD partial sums, about four
// independent ones in all (chains = 4 / D per sum, at least 1): a single
// accumulator chains every sample's add on the previous one (its latency per
// sample). The partial sums are added in a fixed order at the end, so that the
// result depends on n only, not on the thread count or the data's alignment.
template <class T> using Packet = typename Eigen::internal::packet_traits<T>::type;
template <class T>
inline constexpr int kWidth = Eigen::internal::unpacket_traits<Packet<T>>::size;
template <int D>
inline constexpr int kChains = D == 0   ? 4
                               : D >= 4 ? 1
                                        : 4 / D;

// sum over j < n of u[j] v_c[j] for the D rows v_c = v + c n (or of u[j] alone,
// D = 0), in kChains packets per sum and a scalar tail, into out[c]
template <class T, int D>
void lane_dots(const T* __restrict u, const T* __restrict v, Index n, T (&out)[D > 0 ? D : 1]) {
    using namespace Eigen::internal;
    using P = Packet<T>;
    constexpr int W = kWidth<T>, chains = kChains<D>, step = W * chains, rows = D > 0 ? D : 1;
    P acc[rows][chains];
    for (int c = 0; c < rows; ++c)
        for (int q = 0; q < chains; ++q) acc[c][q] = pset1<P>(T(0));
    const Index body = n / step * step;
    for (Index j = 0; j < body; j += step)
        for (int q = 0; q < chains; ++q) {
            const P a = ploadu<P>(u + j + q * W);
            if constexpr (D == 0)
                acc[0][q] = padd(acc[0][q], a);
            else
                for (int c = 0; c < D; ++c) acc[c][q] = pmadd(a, ploadu<P>(v + c * n + j + q * W), acc[c][q]);
        }
    for (int c = 0; c < rows; ++c) {
        P total = acc[c][0];
        for (int q = 1; q < chains; ++q) total = padd(total, acc[c][q]);
        T t = predux(total);
        for (Index j = body; j < n; ++j) t += D == 0 ? u[j] : u[j] * v[c * n + j];
        out[c] = t;
    }
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
void euler_affine(MatMap<T> xn, CRowMap<T> A, CMatMap<T> s, CVecMap<T> b, T h, CMatMap<T> x, MatMap<T> f) {
    if (with_small_dim(A.rows(), [&](auto D_) {
            constexpr int D = D_();
            T M[D][D], c[D];
            for (int r = 0; r < D; ++r) {
                for (int k = 0; k < D; ++k) M[r][k] = A(r, k);
                c[r] = b(r);
            }
            if (xn.data() == x.data())
                small_euler_rows_in_place<T, D>(xn.data(), M, s.data(), s.cols(), c, h);
            else
                small_euler_rows<T, D>(xn.data(), x.data(), M, s.data(), s.cols(), c, h);
        }))
        return;
    affine(f, A, s, b);
    xn.array() = x.array() + h * f.array();
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

// g(r, c) += alpha sum_j u(r, j) v(c, j): for small d, row r of u against
// every row of v in one pass over the samples.
template <class T>
void add_outer(RowMap<T> g, T alpha, CMatMap<T> u, CMatMap<T> v) {
    if (u.rows() == v.rows() && with_small_dim(u.rows(), [&](auto D_) {
            constexpr int D = D_();
            const Index n = u.cols();
            for (int r = 0; r < D; ++r) {
                T dots[D];
                lane_dots<T, D>(u.data() + r * n, v.data(), n, dots);
                for (int c = 0; c < D; ++c) g(r, c) += alpha * dots[c];
            }
        }))
        return;
    g.noalias() += alpha * (u * v.transpose());
}

// g(r) += alpha sum_j u(r, j), in SIMD partial sums for small d.
template <class T>
void add_row_sums(VecMap<T> g, T alpha, CMatMap<T> u) {
    if (with_small_dim(u.rows(), [&](auto D_) {
            constexpr int D = D_();
            const Index n = u.cols();
            for (int r = 0; r < D; ++r) {
                T sum[1];
                lane_dots<T, 0>(u.data() + r * n, nullptr, n, sum);
                g(r) += alpha * sum[0];
            }
        }))
        return;
    g.noalias() += alpha * u.rowwise().sum();
}

RESODE_PRODUCTS(float, )
RESODE_PRODUCTS(double, )

}  // namespace resode::prod
