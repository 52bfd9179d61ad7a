// The analysis sweeps (FormAnalysis, api.hpp) of every form, float and double:
// a translation unit of its own in each level (CMakeLists.txt).
#include "resode/api_impl.hpp"

namespace resode {

template <Form F, class T>
void FormAnalysis<F, T>::tangent(const Network<T>& net, const T* X, Index N, const T* Xdot, const T* dV, const T* db,
                                 T* x_out, T* out, bool per_layer, const RunOptions& opt) {
    with_scheme<typename FieldOf<F>::type>(
        net.scheme, [&](auto s) { tangent_sweep(s, net, X, N, Xdot, dV, db, x_out, out, per_layer, opt); });
}

template <Form F, class T>
double FormAnalysis<F, T>::layer_hamiltonian(const Network<T>& net, const T* X, const T* P, Index N, T* dV, T* db,
                                             const RunOptions& opt) {
    return layer_hamiltonian_sweep<typename FieldOf<F>::type>(net, X, P, N, dV, db, opt);
}

#define RESODE_FORM_ANALYSIS(F)                   \
    template struct FormAnalysis<Form::F, float>; \
    template struct FormAnalysis<Form::F, double>;
RESODE_FORM_ANALYSIS(Inner)
RESODE_FORM_ANALYSIS(Outer)
RESODE_FORM_ANALYSIS(Symmetric)
RESODE_FORM_ANALYSIS(Antisymmetric)
RESODE_FORM_ANALYSIS(ResNetD)
RESODE_FORM_ANALYSIS(Hamiltonian)
RESODE_FORM_ANALYSIS(HamiltonianHR)

}  // namespace resode
