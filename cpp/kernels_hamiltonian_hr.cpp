// The kernels of the hamiltonian_hr form, every scheme, float and double.
#include "resode/api_impl.hpp"

namespace resode {
template struct FormKernels<Form::HamiltonianHR, float>;
template struct FormKernels<Form::HamiltonianHR, double>;
}  // namespace resode
