// The kernels of the antisymmetric form, every scheme, float and double.
#include "resode/api_impl.hpp"

namespace resode {
template struct FormKernels<Form::Antisymmetric, float>;
template struct FormKernels<Form::Antisymmetric, double>;
}  // namespace resode
