// The activations of activations.hpp, for float and double.
#include "resode/activations.hpp"

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace resode::activation {
namespace {

template <class T> using Arr = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T> using CArr = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// tanh in double, vectorised. Eigen 3.4 vectorises tanh for float only, and
// scalar libm tanh took two thirds of the run time at small d. For |x| < 0.625
// Cephes' rational approximation x + x^3 P(x^2) / Q(x^2) (as in its tanh.c);
// above, 1 - t with t = 2 / (e^{2|x|} + 1), which does not cancel there. The
// loop is written for the compiler to vectorise: e^{2|x|} = 2^k e^r by a
// polynomial (no division, unlike Eigen's exp), and both branches share one
// division, num / den, whose operands are selected first (1.3x faster than the
// earlier Eigen version with its exp and three divisions, measured). With WithDerivative, s' = t (2 - t)
// from the same t, accurate in saturation where 1 - s^2 loses its relative
// precision; s comes from the same operations either way, so it is bitwise the
// same. Agrees with libm to 2 ulp (tests/test_activations.py); NaN stays NaN.
// Both branches are computed for every element and then chosen by bit masks
// (pick), not by ?: on computed values: GCC turns such a ?: into a branch that
// evaluates only the taken side (and PRE specialises the exp for the clamped
// y = y_max), and, floating-point operations being able to trap
// (-ftrapping-math, the default), it can if-convert these branches only with
// the masked operations of AVX-512; with AVX2 or SSE4 the loop stayed scalar
// (3-4x slower at x86-64-v3, measured). ?: on a mere negation is kept: a
// negation cannot trap. The operations on the doubles are the same, so the
// results are bitwise those of the ?: version.
template <bool WithDerivative>
void tanh_double(const double* __restrict x, double* __restrict s, double* __restrict ds, Index n) {
    static constexpr double P0 = -9.64399179425052238628e-1, P1 = -9.92877231001918586564e1,
                            P2 = -1.61468768441708447952e3;
    static constexpr double Q1 = 1.12811678491632931402e2, Q2 = 2.23548839060100448583e3, Q3 = 4.84406305325125486048e3;
    static constexpr double inv_ln2 = 1.4426950408889634074, ln2_hi = 6.93147180369123816490e-01,
                            ln2_lo = 1.90821492927058770002e-10;
    static constexpr double round_shift = 0x1.8p52;  // adding it rounds to an integer in the low bits
    static constexpr double y_max = 708.0;           // keeps 2^k a normal number; tanh is 1 long before
    // c ? a : b on the bits, with both a and b already computed: no branch for the compiler to make
    const auto pick = [](bool c, double a, double b) {
        std::uint64_t ua, ub;
        std::memcpy(&ua, &a, sizeof ua);
        std::memcpy(&ub, &b, sizeof ub);
        const std::uint64_t m = std::uint64_t(0) - std::uint64_t(c), u = (ua & m) | (ub & ~m);
        double r;
        std::memcpy(&r, &u, sizeof r);
        return r;
    };
    for (Index i = 0; i < n; ++i) {
        // (ternaries, not fabs / fmin: those keep GCC from vectorising the loop)
        const double xi = x[i], ax = xi < 0.0 ? -xi : xi, z = xi * xi;
        const bool saturated = 2.0 * ax > y_max;
        const double y = pick(saturated, y_max, 2.0 * ax);  // NaN passes through
        const double kb = y * inv_ln2 + round_shift, k = kb - round_shift;
        const double r = (y - k * ln2_hi) - k * ln2_lo;  // |r| <= ln2 / 2
        // e^r by its Taylor polynomial of degree 13 (remainder below 1e-17 on |r| <= ln2 / 2)
        double p = 1.0 / 6227020800.0;
        for (const double c : {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0,
                               1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0})
            p = p * r + c;
        // 2^k: kb holds k in its low mantissa bits, so k + 1023 goes into the exponent field by a
        // 64-bit add and left shift (SSE2 / AVX2 have both; no int64 <-> double conversion).
        // Unsigned: for a NaN x the signed shift would overflow (undefined; UBSan stops on it).
        std::uint64_t bits;
        std::memcpy(&bits, &kb, sizeof bits);
        bits = (bits - std::uint64_t(0x4338000000000000) + 1023) << 52;
        double scale;
        std::memcpy(&scale, &bits, sizeof scale);
        const bool near_zero = ax < 0.625;
        const double num = pick(near_zero, xi * z * ((P0 * z + P1) * z + P2), 2.0);
        const double den = pick(near_zero, ((z + Q1) * z + Q2) * z + Q3, p * scale + 1.0);
        const double q = num / den;  // near zero x^3 P / Q, else t = 1 - tanh|x|
        const double large = 1.0 - q;
        const double si = pick(near_zero, xi + q, xi < 0.0 ? -large : large);
        s[i] = si;
        if constexpr (WithDerivative) ds[i] = pick(near_zero, 1.0 - si * si, pick(saturated, 0.0, q * (2.0 - q)));
    }
}

template <class T>
void tanh_values(const T* x, T* s, Index n) {
    if constexpr (std::is_same_v<T, double>)
        tanh_double<false>(x, s, nullptr, n);
    else
        Arr<T>(s, n) = CArr<T>(x, n).tanh();
}

}  // namespace

template <class T>
void value(Activation a, const T* x_, T* s_, Index n) {
    CArr<T> x(x_, n);
    Arr<T> s(s_, n);
    const T slope = T(kLeakySlope);
    switch (a) {
        case Activation::Tanh: tanh_values(x_, s_, n); break;
        case Activation::Relu: s = x.max(T(0)); break;
        case Activation::Sigmoid: {  // as value_and_derivative computes it, bit for bit
            const Eigen::Array<T, Eigen::Dynamic, 1> e = (-x.abs()).exp();
            s = (x >= T(0)).select(T(1) / (T(1) + e), e / (T(1) + e));
            break;
        }
        // log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)
        case Activation::Softplus: s = x.max(T(0)) + (-x.abs()).exp().log1p(); break;
        case Activation::LeakyRelu: s = (x > T(0)).select(x, slope * x); break;
        case Activation::Identity:
            if (s_ != x_) s = x;
            break;
    }
}

template <class T>
void derivative(Activation a, const T* x_, T* ds_, Index n) {
    CArr<T> x(x_, n);
    Arr<T> ds(ds_, n);
    const T slope = T(kLeakySlope);
    using Ones = Eigen::Array<T, Eigen::Dynamic, 1>;
    switch (a) {
        case Activation::Tanh: ds = T(4) * (T(-2) * x.abs()).exp() / (T(1) + (T(-2) * x.abs()).exp()).square(); break;
        case Activation::Relu: ds = (x > T(0)).template cast<T>(); break;
        case Activation::Sigmoid: ds = (-x.abs()).exp() / (T(1) + (-x.abs()).exp()).square(); break;
        case Activation::Softplus: ds = x.logistic(); break;
        case Activation::LeakyRelu: ds = (x > T(0)).select(Ones::Constant(n, T(1)), Ones::Constant(n, slope)); break;
        case Activation::Identity: ds.setOnes(); break;
    }
}

template <class T>
void derivative_from_value(Activation a, const T* x_, const T* s_, T* ds_, Index n) {
    CArr<T> s(s_, n);
    Arr<T> ds(ds_, n);
    switch (a) {
        case Activation::Tanh: ds = T(1) - s.square(); break;
        case Activation::Sigmoid: ds = s * (T(1) - s); break;
        case Activation::Softplus: ds = T(1) - (-s).exp(); break;  // 1 - 1/(1+e^x) = sigmoid(x)
        default: derivative(a, x_, ds_, n); break;                 // cheap piecewise-linear ones
    }
}

template <class T>
void value_and_derivative(Activation a, const T* x_, T* s_, T* ds_, Index n) {
    CArr<T> x(x_, n);
    Arr<T> s(s_, n);
    Arr<T> ds(ds_, n);
    switch (a) {
        case Activation::Tanh:
            if constexpr (std::is_same_v<T, double>) {
                tanh_double<true>(x_, s_, ds_, n);
            } else {
                s = x.tanh();
                ds = T(4) * (T(-2) * x.abs()).exp() / (T(1) + (T(-2) * x.abs()).exp()).square();
            }
            break;
        case Activation::Sigmoid: {
            // e = exp(-|x|): s = 1/(1+e) or e/(1+e), s' = e/(1+e)^2
            ds = (-x.abs()).exp();
            s = (x >= T(0)).select(T(1) / (T(1) + ds), ds / (T(1) + ds));
            ds = ds / (T(1) + ds).square();
            break;
        }
        default:
            value(a, x_, s_, n);
            derivative(a, x_, ds_, n);
            break;
    }
}

RESODE_ACTIVATIONS(float, )
RESODE_ACTIVATIONS(double, )

}  // namespace resode::activation
