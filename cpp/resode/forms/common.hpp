// What every form sees: the parameters of one layer, per-thread scratch
// blocks, and the few matrix products the sweeps are made of (kept here so
// that a faster product for some sizes is a change in one place).
#pragma once

#include "resode/activations.hpp"
#include "resode/types.hpp"

#include <array>
#include <type_traits>

namespace resode {

// One layer as a form uses it: A is V_k, or a matrix derived from it
// (antisymmetric: V - V^T - gamma I), b is b_k.
template <class T>
struct Layer {
    CRowMap<T> A;
    CVecMap<T> b;
};

// Scratch blocks of one thread, each d x block; t(i) views the first n
// columns as a contiguous d x n matrix (so elementwise passes vectorise
// linearly whatever d is).
template <class T>
class Scratch {
public:
    Scratch(Index d, Index block) : d_(d), n_(block), dd(d, d) {
        for (auto& m : buf_) m.resize(d, block);
    }
    void set_cols(Index n) { n_ = n; }
    MatMap<T> t(int i) { return MatMap<T>(buf_[static_cast<std::size_t>(i)].data(), d_, n_); }

private:
    Index d_, n_;
    std::array<Mat<T>, 3> buf_;  // the most any form uses (inner: 3)

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

// out = A x + b (b broadcast over columns)
template <class T, class M>
void affine(MatMap<T> out, const M& A, CMatMap<T> x, CVecMap<T> b) {
    if (with_small_dim(A.rows(), [&](auto D) {
            small_columns<T, D(), false>(out, Square<T, D()>(A), x, Column<T, D()>(b));
        }))
        return;
    out.noalias() = A * x;
    out.colwise() += b;
}

// out = A p
template <class T, class M>
void apply(MatMap<T> out, const M& A, CMatMap<T> p) {
    if (with_small_dim(A.rows(), [&](auto D) {
            small_columns<T, D(), false>(out, Square<T, D()>(A), p, Column<T, D()>::Zero());
        }))
        return;
    out.noalias() = A * p;
}

// out = A^T p
template <class T, class M>
void apply_transpose(MatMap<T> out, const M& A, CMatMap<T> p) {
    if (with_small_dim(A.rows(), [&](auto D) {
            small_columns<T, D(), false>(out, Square<T, D()>(A.transpose()), p, Column<T, D()>::Zero());
        }))
        return;
    out.noalias() = A.transpose() * p;
}

// out += alpha A^T p
template <class T, class M>
void add_transpose(MatMap<T> out, T alpha, const M& A, CMatMap<T> p) {
    if (with_small_dim(A.rows(), [&](auto D) {
            small_columns<T, D(), true>(out, Square<T, D()>(alpha * A.transpose()), p, 0);
        }))
        return;
    out.noalias() += alpha * (A.transpose() * p);
}

// g = alpha u v^T (or g += with Accumulate), summed over the columns (samples)
template <bool Accumulate = false, class T, class G>
void outer(G&& g, T alpha, CMatMap<T> u, CMatMap<T> v) {
    if (with_small_dim(u.rows(), [&](auto D) {
            CSmallCols<T, D()> us(u.data(), D(), u.cols()), vs(v.data(), D(), v.cols());
            Square<T, D()> acc = Square<T, D()>::Zero();
            for (Index j = 0; j < u.cols(); ++j) acc.noalias() += us.col(j) * vs.col(j).transpose();
            if constexpr (Accumulate)
                g += alpha * acc;
            else
                g = alpha * acc;
        }))
        return;
    if constexpr (Accumulate)
        g.noalias() += alpha * (u * v.transpose());
    else
        g.noalias() = alpha * (u * v.transpose());
}

// g = alpha * (row sums of u): the bias gradient over a block
template <class T>
void row_sums(VecMap<T> g, T alpha, CMatMap<T> u) {
    g.noalias() = alpha * u.rowwise().sum();
}

}  // namespace prod

template <class T>
CMatMap<T> as_const(MatMap<T> m) {
    return CMatMap<T>(m.data(), m.rows(), m.cols());
}

}  // namespace resode
