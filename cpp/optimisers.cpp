// The optimiser steps of optimisers.hpp, for float and double.
#include "resode/optimisers.hpp"

#include <cmath>

namespace resode::optimiser {

template <class T> using Arr = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T> using CArr = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// The constants are rounded to T once, so that float32 stays float32; Eigen's
// array expressions vectorise the square root, which a plain loop would leave
// scalar for errno's sake.
template <class T>
void adam(const Adam& s, T* theta_, const T* g_, T* m_, T* v_, Index n) {
    Arr<T> theta(theta_, n), m(m_, n), v(v_, n);
    CArr<T> g(g_, n);
    const T c2 = T(1 - std::pow(s.beta2, double(s.t)));
    const T rate = T(s.lr / (1 - std::pow(s.beta1, double(s.t))));
    m = T(s.beta1) * m + T(1 - s.beta1) * g;
    v = T(s.beta2) * v + T(1 - s.beta2) * g.square();
    theta -= rate * m / ((v / c2).sqrt() + T(s.eps));
}

RESODE_OPTIMISERS(float, )
RESODE_OPTIMISERS(double, )

}  // namespace resode::optimiser
