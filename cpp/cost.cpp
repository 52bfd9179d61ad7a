// The sample terms of cost.hpp, for float and double.
#include "resode/cost.hpp"

#include <algorithm>
#include <cmath>

namespace resode {

template <class T>
double terminal_cost(const SampleSlice<T>& sl, CMatMap<T> x, T* p_out, T* dW_out, T* dmu_out, HeadScratch<T>& hs) {
    const Cost<T>& c = sl.cost;
    const Index n = sl.n, d = x.rows(), m = c.m;
    auto& loss_i = hs.per_sample;
    if (c.head == Head::Cotangent) {
        // sum_i G_i . x_i, whose costate is G itself (G the targets, m = d)
        const CMatMap<T> g = sl.targets();
        if (p_out) MatMap<T>(p_out, d, n) = g;
        return (x.array() * g.array()).template cast<double>().sum();
    }
    if (c.head == Head::State) {
        MatMap<T> r(p_out ? p_out : hs.z.data(), d, n);
        r = x - sl.targets();
        loss_i.head(n) = T(0.5) * r.colwise().squaredNorm().array();
        const double loss = sl.weighted_sum(loss_i);
        if (p_out) sl.weigh_columns(r);
        return loss;
    }
    CRowMap<T> W(c.W, m, d);
    CVecMap<T> mu(c.mu, m);
    MatMap<T> z(hs.z.data(), m, n);
    z.noalias() = W * x;
    z.colwise() += mu;
    switch (c.head) {
        case Head::Linear:
            z -= sl.targets();
            loss_i.head(n) = T(0.5) * z.colwise().squaredNorm().array();
            break;
        case Head::Softmax: {
            // log-sum-exp after shifting each column by its maximum
            const RowArr<T> zmax = z.colwise().maxCoeff().array();
            z.array().rowwise() -= zmax;
            const std::int64_t* y = sl.labels();
            for (Index i = 0; i < n; ++i) loss_i(i) = -z(static_cast<Index>(y[i]), i);
            z = z.array().exp().matrix();
            const RowArr<T> total = z.colwise().sum().array();
            loss_i.head(n) += total.log();
            z.array().rowwise() /= total;  // softmax
            // q_y = p_y - 1 = -(sum of the other probabilities): no cancellation
            // when the prediction is confident (p_y near 1)
            for (Index i = 0; i < n; ++i) {
                const Index yi = static_cast<Index>(y[i]);
                T others = T(0);
                for (Index j = 0; j < m; ++j) others += j == yi ? T(0) : z(j, i);
                z(yi, i) = -others;
            }
            break;
        }
        case Head::Logistic: {
            const std::int64_t* y = sl.labels();
            auto zr = z.row(0).array();
            for (Index i = 0; i < n; ++i) {
                const T zi = zr(i), yi = T(y[i]);
                // softplus(z) - y z without overflow
                const T e = std::exp(-std::abs(zi));
                loss_i(i) = std::max(zi, T(0)) - yi * zi + std::log1p(e);
                // sigmoid(z) - y without cancellation: for y = 1 it is -sigmoid(-z)
                const T sig_pos = T(1) / (T(1) + e), sig_neg = e / (T(1) + e);  // of |z|, -|z|
                const T sig = zi >= T(0) ? sig_pos : sig_neg, sig_minus = zi >= T(0) ? sig_neg : sig_pos;
                zr(i) = y[i] == 1 ? -sig_minus : sig;
            }
            break;
        }
        case Head::State:
        case Head::Cotangent: break;
    }
    const double loss = sl.weighted_sum(loss_i);
    if (p_out) {
        // z now holds q = dPhi/d(logits) per sample
        sl.weigh_columns(z);
        MatMap<T> p(p_out, d, n);
        p.noalias() = W.transpose() * z;
        if (dW_out) {
            RowMap<T>(dW_out, m, d).noalias() = z * x.transpose();
            VecMap<T>(dmu_out, m).noalias() = z.rowwise().sum();
        }
    }
    return loss;
}

namespace {

// sum_i (a_i - b_i)^2 over n values, each difference squared in double, in 16
// partial sums added in a fixed order (four AVX registers of doubles: fewer
// chained each add on the last, profiled), vectorised; and with Add also
// p_i += alpha (a_i - b_i) from the same differences. Eigen's sum of the cast
// expression stayed scalar: a quarter of a gradient's time at d = 2, profiled.
template <bool Add, class T>
double squared_distance(const T* a, const T* b, Index n, T* p = nullptr, T alpha = T(0)) {
    constexpr int K = 16;
    double acc[K] = {};
    const Index body = n / K * K;
    for (Index i = 0; i < body; i += K)
        for (int q = 0; q < K; ++q) {
            const T r = a[i + q] - b[i + q];
            if constexpr (Add) p[i + q] += alpha * r;
            acc[q] += double(r) * double(r);
        }
    for (Index i = body; i < n; ++i) {
        const T r = a[i] - b[i];
        if constexpr (Add) p[i] += alpha * r;
        acc[i - body] += double(r) * double(r);
    }
    double lanes[K / 2];
    for (int q = 0; q < K / 2; ++q) lanes[q] = acc[q] + acc[q + K / 2];
    return ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
}

}  // namespace

template <class T>
double tracking_cost(const SampleSlice<T>& sl, CMatMap<T> x, HeadScratch<T>& hs) {
    // Without weights, one flat sum over the block's values: at small d the
    // per-sample norms below are short loops over d values each.
    if (!sl.cost.sample_weight) return 0.5 * squared_distance<false>(x.data(), sl.targets().data(), x.size());
    hs.per_sample.head(sl.n) = T(0.5) * (x - sl.targets()).colwise().squaredNorm().array();
    return sl.weighted_sum(hs.per_sample);
}

template <class T>
double add_tracking_adjoint(const SampleSlice<T>& sl, CMatMap<T> x, MatMap<T> p, T alpha, HeadScratch<T>& hs) {
    if (!sl.cost.sample_weight)
        return 0.5 * squared_distance<true>(x.data(), sl.targets().data(), x.size(), p.data(), alpha);
    const double cost = tracking_cost(sl, x, hs);
    Eigen::Map<const RowArr<T>> w(sl.cost.sample_weight + sl.start, sl.n);
    p.array() += alpha * ((x - sl.targets()).array().rowwise() * w);
    return cost;
}

RESODE_COSTS(float, )
RESODE_COSTS(double, )

}  // namespace resode
