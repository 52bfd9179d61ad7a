// The sample terms of the cost J: the terminal cost Phi of each head with its
// costate p_{L+1} = dPhi/dx_{L+1} and head-parameter gradients, and the running
// (tracking) cost of the state head. Per-sample terms are computed in the
// compute dtype and summed in double (the unweighted running cost: each
// squared component in double).
#pragma once

#include "resode/types.hpp"

namespace resode {

template <class T> using RowArr = Eigen::Array<T, 1, Eigen::Dynamic>;

// Scratch of one thread for the head: logits / residuals (m x block), one
// value per sample, and the block's targets.
template <class T>
struct HeadScratch {
    HeadScratch(Index rows, Index block) : z(rows, block), per_sample(block), cols(block) {}
    Mat<T> z;
    RowArr<T> per_sample;
    Mat<T> targets;  // m x block, gathered from the caller's (N, m) array
    Index cols;
};

// Samples [start, start + n) of the cost's per-sample arrays.
template <class T>
struct SampleSlice {
    const Cost<T>& cost;
    Index start, n;
    const T* gathered = nullptr;  // the block's targets as a block (m x n), when the cost has targets

    CMatMap<T> targets() const { return CMatMap<T>(gathered, cost.m, n); }
    const std::int64_t* labels() const { return cost.labels + start; }
    // sum_i w_i v_i in double, w_i the sample weights (1 when absent)
    double weighted_sum(const RowArr<T>& v) const {
        if (!cost.sample_weight) return v.head(n).template cast<double>().sum();
        Eigen::Map<const RowArr<T>> w(cost.sample_weight + start, n);
        return (v.head(n) * w).template cast<double>().sum();
    }
    // scale each column (sample) of m by its weight
    template <class M>
    void weigh_columns(M&& m) const {
        if (!cost.sample_weight) return;
        Eigen::Map<const RowArr<T>> w(cost.sample_weight + start, n);
        m.array().rowwise() *= w;
    }
};

// The slice of samples [start, start + n), its targets (if any) gathered into
// hs once: the running cost compares them with every layer's states.
template <class T>
SampleSlice<T> gather_targets(const Cost<T>& cost, Index start, Index n, HeadScratch<T>& hs) {
    if (!cost.Y) return SampleSlice<T>{cost, start, n};
    if (hs.targets.size() == 0) hs.targets.resize(cost.m, hs.cols);
    MatMap<T> y(hs.targets.data(), cost.m, n);
    y = CSampleMap<T>(cost.Y + start * cost.m, cost.m, n);
    return SampleSlice<T>{cost, start, n, y.data()};
}

// Phi over a block of final states x (d x n). When p is given, writes
// p_{L+1}; when dW is given also the block's dW (m x d) and dmu (m).
template <class T>
double terminal_cost(const SampleSlice<T>& sl, CMatMap<T> x, T* p_out, T* dW_out, T* dmu_out, HeadScratch<T>& hs);

// (1/2) sum_i w_i |x_i - y_i|^2 over a block: the running cost before its
// factor w1 h.
template <class T>
double tracking_cost(const SampleSlice<T>& sl, CMatMap<T> x, HeadScratch<T>& hs);

// p += alpha w_i (x_i - y_i): the running cost's term in the adjoint; returns
// tracking_cost(sl, x, hs), bitwise, from the same pass.
template <class T>
double add_tracking_adjoint(const SampleSlice<T>& sl, CMatMap<T> x, MatMap<T> p, T alpha, HeadScratch<T>& hs);

// Compiled once (cost.cpp), not in every form's translation unit: a call covers a block.
#define RESODE_COSTS(T, EXTERN)                                                                              \
    EXTERN template double terminal_cost<T>(const SampleSlice<T>&, CMatMap<T>, T*, T*, T*, HeadScratch<T>&); \
    EXTERN template double tracking_cost<T>(const SampleSlice<T>&, CMatMap<T>, HeadScratch<T>&);             \
    EXTERN template double add_tracking_adjoint<T>(const SampleSlice<T>&, CMatMap<T>, MatMap<T>, T, HeadScratch<T>&);
RESODE_COSTS(float, extern)
RESODE_COSTS(double, extern)

}  // namespace resode
