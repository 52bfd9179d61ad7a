// What every form sees: the parameters of one layer and per-thread scratch
// blocks (the matrix products they are made of: products.hpp).
#pragma once

#include "resode/activations.hpp"
#include "resode/products.hpp"
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

// The scratch buffers of one thread, named by their owner so that no two
// users of one layer's step share one: a form's field, adjoint and tangent
// (form_a..form_c), a scheme's step (its field value or stage slope, the sum
// of the stages, the stage's state), the split (Hamiltonian) forms on their
// half-height blocks, and the tangent steps (the derivatives of the scheme's).
// clang-format off
enum class Buf : int {
    form_a, form_b, form_c,
    stage, stage_sum, stage_state,
    half_in, half_out, half_aux,
    stage_dot, stage_sum_dot, stage_state_dot,
    count
};
// clang-format on

// Each buffer is up to d x block, allocated on first use. like(b, x) views
// buffer b as a contiguous matrix of x's shape (so elementwise passes
// vectorise linearly whatever d is).
template <class T>
class Scratch {
public:
    Scratch(Index d, Index block) : d_(d), cap_(block), n_(block), dd(d, d) {}
    void set_cols(Index n) { n_ = n; }
    Index cols() const { return n_; }
    MatMap<T> t(Buf b, Index rows) {
        Mat<T>& m = buf_[static_cast<std::size_t>(b)];
        if (m.size() == 0) m.resize(d_, cap_);
        return MatMap<T>(m.data(), rows, n_);
    }
    MatMap<T> t(Buf b) { return t(b, d_); }
    template <class M>
    MatMap<T> like(Buf b, const M& x) {
        return t(b, x.rows());
    }

private:
    Index d_, cap_, n_;
    std::array<Mat<T>, static_cast<std::size_t>(Buf::count)> buf_;

public:
    RowMat<T> dd;  // a d x d scratch matrix
};

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
