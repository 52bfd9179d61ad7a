// Definitions behind api.hpp: the run-time scheme picks the sweep
// instantiation. Included by the kernels_*.cpp translation units only.
#pragma once

#include "resode/api.hpp"
#include "resode/sweep.hpp"

namespace resode {

template <Form F> struct FieldOf;
template <> struct FieldOf<Form::Inner> { using type = Inner; };
template <> struct FieldOf<Form::Outer> { using type = Outer; };
template <> struct FieldOf<Form::Symmetric> { using type = Symmetric; };
template <> struct FieldOf<Form::Antisymmetric> { using type = Antisymmetric; };
template <> struct FieldOf<Form::ResNetD> { using type = ResNetD; };
template <> struct FieldOf<Form::Hamiltonian> { using type = Hamiltonian; };
template <> struct FieldOf<Form::HamiltonianHR> { using type = HamiltonianHR; };

template <Form F, class T>
void FormKernels<F, T>::forward(const Network<T>& net, const T* X, Index N, T* out, bool trajectory,
                                const RunOptions& opt) {
    with_scheme<typename FieldOf<F>::type>(net.scheme,
                                           [&](auto s) { forward_sweep(s, net, X, N, out, trajectory, opt); });
}

template <Form F, class T>
double FormKernels<F, T>::cost(const Network<T>& net, const Cost<T>& c, const T* X, Index N, const Gradients<T>* grads,
                               const RunOptions& opt, Index checkpoint_every, bool reversible) {
    return with_scheme<typename FieldOf<F>::type>(
        net.scheme, [&](auto s) { return cost_sweep(s, net, c, X, N, grads, opt, checkpoint_every, reversible); });
}

template <Form F, class T>
int FormKernels<F, T>::cached_arrays(Scheme scheme) {
    return with_scheme<typename FieldOf<F>::type>(scheme, [](auto s) { return s.cached(); });
}

template <Form F, class T>
Index FormKernels<F, T>::v_size(Index d) {
    return FieldOf<F>::type::v_size(d);
}

template <Form F, class T>
Index FormKernels<F, T>::b_size(Index d) {
    return FieldOf<F>::type::b_size(d);
}

}  // namespace resode
