// The kernels of the symmetric form, every scheme, float and double.
#include "resode/api_impl.hpp"

namespace resode {
template struct FormKernels<Form::Symmetric, float>;
template struct FormKernels<Form::Symmetric, double>;
}  // namespace resode
