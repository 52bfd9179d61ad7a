// The kernels of the hamiltonian form, every scheme, float and double.
#include "resode/api_impl.hpp"

namespace resode {
template struct FormKernels<Form::Hamiltonian, float>;
template struct FormKernels<Form::Hamiltonian, double>;
}  // namespace resode
