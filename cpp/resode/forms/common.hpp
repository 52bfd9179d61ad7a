// What every form sees: the parameters of one layer, per-thread scratch
// blocks, and the few matrix products the sweeps are made of (kept here so
// that a faster product for some sizes is a change in one place).
#pragma once

#include "resode/activations.hpp"
#include "resode/types.hpp"

#include <array>

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
    Index cols() const { return n_; }
    MatMap<T> t(int i) { return MatMap<T>(buf_[static_cast<std::size_t>(i)].data(), d_, n_); }

private:
    Index d_, n_;
    std::array<Mat<T>, 4> buf_;

public:
    RowMat<T> dd;  // a d x d scratch matrix
};

namespace prod {

// out = A x + b (b broadcast over columns)
template <class T, class M>
void affine(MatMap<T> out, const M& A, CMatMap<T> x, CVecMap<T> b) {
    out.noalias() = A * x;
    out.colwise() += b;
}

// out = A p
template <class T, class M>
void apply(MatMap<T> out, const M& A, CMatMap<T> p) {
    out.noalias() = A * p;
}

// out = A^T p
template <class T, class M>
void apply_transpose(MatMap<T> out, const M& A, CMatMap<T> p) {
    out.noalias() = A.transpose() * p;
}

// out += alpha A^T p
template <class T, class M>
void add_transpose(MatMap<T> out, T alpha, const M& A, CMatMap<T> p) {
    out.noalias() += alpha * (A.transpose() * p);
}

// G = alpha u v^T summed over the columns (samples) of u and v
template <class T, class G>
void outer(G&& g, T alpha, CMatMap<T> u, CMatMap<T> v) {
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
