// Entry points of the kernels. Each form's instantiations (every scheme, both
// dtypes) live in their own translation unit, kernels_<form>.cpp, so that the
// build compiles them in parallel; the run-time form picks one here.
#pragma once

#include "resode/parallel.hpp"
#include "resode/types.hpp"

namespace resode {

// The kernels of one form, for every scheme (chosen at run time): the sweeps
// of training and prediction (kernels_<form>.cpp).
template <Form F, class T>
struct FormKernels {
    static void forward(const Network<T>& net, const T* X, Index N, T* out, bool trajectory, const RunOptions& opt);
    static double cost(const Network<T>& net, const Cost<T>& cost, const T* X, Index N, const Gradients<T>* grads,
                       const RunOptions& opt, Index checkpoint_every, bool reversible);
    // arrays of d x n that a layer's step keeps for the backward sweep
    static int cached_arrays(Scheme scheme);
    // entries of V and b per parameter group at state dimension d
    static Index v_size(Index d);
    static Index b_size(Index d);
};

// The analysis sweeps of one form (tangents, the layer Hamiltonian of MSA),
// in a translation unit of their own (kernels_analysis.cpp).
template <Form F, class T>
struct FormAnalysis {
    static void tangent(const Network<T>& net, const T* X, Index N, const T* Xdot, const T* dV, const T* db, T* x_out,
                        T* out, bool per_layer, const RunOptions& opt);
    static double layer_hamiltonian(const Network<T>& net, const T* X, const T* P, Index N, T* dV, T* db,
                                    const RunOptions& opt);
};

// Runs fn(std::integral_constant<Form, F>{}) for the run-time form.
template <class Fn>
decltype(auto) with_form_tag(Form form, Fn&& fn) {
    switch (form) {
        case Form::Inner: return fn(std::integral_constant<Form, Form::Inner>{});
        case Form::Outer: return fn(std::integral_constant<Form, Form::Outer>{});
        case Form::Symmetric: return fn(std::integral_constant<Form, Form::Symmetric>{});
        case Form::Antisymmetric: return fn(std::integral_constant<Form, Form::Antisymmetric>{});
        case Form::ResNetD: return fn(std::integral_constant<Form, Form::ResNetD>{});
        case Form::Hamiltonian: return fn(std::integral_constant<Form, Form::Hamiltonian>{});
        case Form::HamiltonianHR: return fn(std::integral_constant<Form, Form::HamiltonianHR>{});
    }
    throw std::invalid_argument("unknown form");
}

// Entries of V and b per parameter group for a form at state dimension d.
inline Index v_size(Form form, Index d) {
    return with_form_tag(form, [&](auto f) { return FormKernels<f(), double>::v_size(d); });
}
inline Index b_size(Form form, Index d) {
    return with_form_tag(form, [&](auto f) { return FormKernels<f(), double>::b_size(d); });
}

inline int cached_arrays(Form form, Scheme scheme) {
    return with_form_tag(form, [&](auto f) { return FormKernels<f(), double>::cached_arrays(scheme); });
}

// x_{L+1} for every sample (out: (N, d)), or the whole trajectory (out: (L+1, N, d)).
template <class T>
void forward(const Network<T>& net, const T* X, Index N, T* out, bool trajectory, const RunOptions& opt) {
    with_form_tag(net.form, [&](auto f) { FormKernels<f(), T>::forward(net, X, N, out, trajectory, opt); });
}

// The cost J; with grads also dJ/dV, dJ/db (and dJ/dW, dJ/dmu, dJ/dX, the costates where asked).
// checkpoint_every = c > 0 stores every c-th state and recomputes the rest;
// reversible reconstructs the states backwards (symplectic schemes).
template <class T>
double cost(const Network<T>& net, const Cost<T>& c, const T* X, Index N, const Gradients<T>* grads,
            const RunOptions& opt, Index checkpoint_every = 0, bool reversible = false) {
    return with_form_tag(net.form, [&](auto f) {
        return FormKernels<f(), T>::cost(net, c, X, N, grads, opt, checkpoint_every, reversible);
    });
}

// The tangent sweep along (Xdot, dV, db) (null: zero); out (N, d), or (L+1, N, d) with per_layer.
template <class T>
void tangent(const Network<T>& net, const T* X, Index N, const T* Xdot, const T* dV, const T* db, T* x_out, T* out,
             bool per_layer, const RunOptions& opt) {
    with_form_tag(net.form,
                  [&](auto f) { FormAnalysis<f(), T>::tangent(net, X, N, Xdot, dV, db, x_out, out, per_layer, opt); });
}

// sum_i P_i . f(X_i) for layer 0 of net, and its gradient in dV, db.
template <class T>
double layer_hamiltonian(const Network<T>& net, const T* X, const T* P, Index N, T* dV, T* db, const RunOptions& opt) {
    return with_form_tag(net.form,
                         [&](auto f) { return FormAnalysis<f(), T>::layer_hamiltonian(net, X, P, N, dV, db, opt); });
}

}  // namespace resode
