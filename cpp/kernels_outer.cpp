// The kernels of the outer form, every scheme, float and double.
#include "resode/api_impl.hpp"

namespace resode {
template struct FormKernels<Form::Outer, float>;
template struct FormKernels<Form::Outer, double>;
}  // namespace resode
