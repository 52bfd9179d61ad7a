// What every form sees: the parameters of one layer, per-thread scratch
// blocks, and the few matrix products the sweeps are made of (kept here so
// that a faster product for some sizes is a change in one place).
#pragma once

#include "resode/activations.hpp"
#include "resode/types.hpp"

#include <array>
#include <type_traits>

namespace resode {

// One layer (one parameter group) as a form sees it: its slices of V and b,
// and D, data derived from V once per call (antisymmetric: V - V^T - gamma I;
// null for forms without). d is the dimension the form acts on.
template <class T>
struct Layer {
    const T* V = nullptr;
    const T* D = nullptr;
    const T* b = nullptr;
    Index d = 0;

    // the i-th d x d matrix of V (or of D), and the i-th d-vector of b
    CRowMap<T> mat(Index i = 0) const { return CRowMap<T>(V + i * d * d, d, d); }
    CRowMap<T> derived(Index i = 0) const { return CRowMap<T>(D + i * d * d, d, d); }
    CVecMap<T> vec(Index i = 0) const { return CVecMap<T>(b + i * d, d); }
};

// Where a layer's adjoint adds its parameter gradients: the layout of V and b.
template <class T>
struct LayerGrad {
    T* V = nullptr;
    T* b = nullptr;
    Index d = 0;

    RowMap<T> mat(Index i = 0) const { return RowMap<T>(V + i * d * d, d, d); }
    VecMap<T> vec(Index i = 0) const { return VecMap<T>(b + i * d, d); }
};

// Scratch blocks of one thread, each up to d x block, allocated on first use.
// like(i, x) views buffer i as a contiguous matrix of x's shape (so elementwise
// passes vectorise linearly whatever d is). Buffers 0-2 belong to the forms,
// 3-5 to the schemes, 6-8 to the split (Hamiltonian) forms, 9-11 to tangents.
template <class T>
class Scratch {
public:
    static constexpr int kBuffers = 12;
    Scratch(Index d, Index block) : d_(d), cap_(block), n_(block), dd(d, d) {}
    void set_cols(Index n) { n_ = n; }
    Index cols() const { return n_; }
    MatMap<T> t(int i, Index rows) {
        Mat<T>& m = buf_[static_cast<std::size_t>(i)];
        if (m.size() == 0) m.resize(d_, cap_);
        return MatMap<T>(m.data(), rows, n_);
    }
    MatMap<T> t(int i) { return t(i, d_); }
    template <class M>
    MatMap<T> like(int i, const M& x) {
        return t(i, x.rows());
    }

private:
    Index d_, cap_, n_;
    std::array<Mat<T>, kBuffers> buf_;

public:
    RowMat<T> dd;  // a d x d scratch matrix
};

namespace prod {

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

template <class T, int D> using SmallCols = Eigen::Map<Eigen::Matrix<T, D, Eigen::Dynamic>>;
template <class T, int D> using CSmallCols = Eigen::Map<const Eigen::Matrix<T, D, Eigen::Dynamic>>;

// out_j = M x_j (+ c), or out_j += M x_j, for every column (sample) j
template <class T, int D, bool Accumulate, class Sq, class Shift>
void small_columns(MatMap<T> out, const Sq& M, CMatMap<T> x, const Shift& c) {
    SmallCols<T, D> o(out.data(), D, x.cols());
    CSmallCols<T, D> in(x.data(), D, x.cols());
    for (Index j = 0; j < x.cols(); ++j) {
        if constexpr (Accumulate)
            o.col(j).noalias() += M * in.col(j);
        else
            o.col(j).noalias() = M * in.col(j) + c;
    }
}

template <class T, int D> using Square = Eigen::Matrix<T, D, D>;
template <class T, int D> using Column = Eigen::Matrix<T, D, 1>;

// out = alpha A x + b (b broadcast over columns)
template <class T, class M>
void affine(MatMap<T> out, const M& A, CMatMap<T> x, CVecMap<T> b, T alpha = T(1)) {
    if (with_small_dim(A.rows(), [&](auto D) {
            small_columns<T, D(), false>(out, Square<T, D()>(alpha * A), x, Column<T, D()>(b));
        }))
        return;
    if (alpha == T(1))
        out.noalias() = A * x;
    else
        out.noalias() = (alpha * A) * x;
    out.colwise() += b;
}

// out = alpha A p
template <class T, class M>
void apply(MatMap<T> out, const M& A, CMatMap<T> p, T alpha = T(1)) {
    if (with_small_dim(A.rows(), [&](auto D) {
            small_columns<T, D(), false>(out, Square<T, D()>(alpha * A), p, Column<T, D()>::Zero());
        }))
        return;
    if (alpha == T(1))
        out.noalias() = A * p;
    else
        out.noalias() = (alpha * A) * p;
}

// out = alpha A^T p
template <class T, class M>
void apply_transpose(MatMap<T> out, const M& A, CMatMap<T> p, T alpha = T(1)) {
    apply(out, A.transpose(), p, alpha);
}

// out += alpha A p
template <class T, class M>
void add_apply(MatMap<T> out, T alpha, const M& A, CMatMap<T> p) {
    if (with_small_dim(A.rows(), [&](auto D) {
            small_columns<T, D(), true>(out, Square<T, D()>(alpha * A), p, 0);
        }))
        return;
    out.noalias() += alpha * (A * p);
}

// out += alpha A^T p
template <class T, class M>
void add_transpose(MatMap<T> out, T alpha, const M& A, CMatMap<T> p) {
    add_apply(out, alpha, A.transpose(), p);
}

// g += alpha u v^T, summed over the columns (samples). For small d, four
// columns at a time as one fixed-size D x 4 by 4 x D product: a column at a
// time chained every sample's adds on the previous one (their latency per
// sample); measured 1.5-4x faster for this loop at d = 2, 4 and 8, the same at
// d = 3. (Four separate accumulators instead were 1.3x slower in float32.)
template <class T, class G>
void add_outer(G&& g, T alpha, CMatMap<T> u, CMatMap<T> v) {
    if (u.rows() == v.rows() && with_small_dim(u.rows(), [&](auto D) {
            CSmallCols<T, D()> us(u.data(), D(), u.cols()), vs(v.data(), D(), v.cols());
            Square<T, D()> acc = Square<T, D()>::Zero();
            Index j = 0;
            for (; j + 4 <= u.cols(); j += 4)
                acc.noalias() += us.template middleCols<4>(j).lazyProduct(vs.template middleCols<4>(j).transpose());
            for (; j < u.cols(); ++j) acc.noalias() += us.col(j) * vs.col(j).transpose();
            g += alpha * acc;
        }))
        return;
    g.noalias() += alpha * (u * v.transpose());
}

// g += alpha * (row sums of u): a bias gradient over a block. For small d the
// columns go into four partial sums, added in a fixed order at the end: one
// accumulator chains every column's add on the previous one (an add's latency
// per sample); four run in parallel (8-15x faster for this loop, measured).
// The order depends on the column count only: results stay independent of the
// thread count.
template <class T>
void add_row_sums(VecMap<T> g, T alpha, CMatMap<T> u) {
    if (with_small_dim(u.rows(), [&](auto D) {
            CSmallCols<T, D()> us(u.data(), D(), u.cols());
            using Sum = Column<T, D()>;
            Sum a0 = Sum::Zero(), a1 = Sum::Zero(), a2 = Sum::Zero(), a3 = Sum::Zero();
            Index j = 0;
            for (; j + 4 <= u.cols(); j += 4) {
                a0 += us.col(j);
                a1 += us.col(j + 1);
                a2 += us.col(j + 2);
                a3 += us.col(j + 3);
            }
            for (; j < u.cols(); ++j) a0 += us.col(j);
            g += alpha * ((a0 + a1) + (a2 + a3));
        }))
        return;
    g.noalias() += alpha * u.rowwise().sum();
}

}  // namespace prod

// The spacing of consecutive arrays of x's shape in a cache: rows x the columns
// rounded up to 16, so that every array starts 64-byte aligned like a scratch
// buffer. Eigen's vectorised loops (and tanh) round differently on a misaligned
// start, and a value must come out the same cached or not (checkpointing, loss
// against loss_and_grad).
inline Index padded(Index rows, Index cols) { return rows * ((cols + 15) / 16 * 16); }
template <class M>
Index padded_size(const M& x) {
    return padded(x.rows(), x.cols());
}

template <class T>
CMatMap<T> as_const(MatMap<T> m) {
    return CMatMap<T>(m.data(), m.rows(), m.cols());
}

// relu in place, keeping NaN (a NaN must reach the overflow check, not become 0)
template <class T>
void relu_in_place(MatMap<T> x) {
    x = (x.array() < T(0)).select(T(0), x);
}

}  // namespace resode
