// The kernels of the inner form, every scheme, float and double.
#include "resode/api_impl.hpp"

namespace resode {
template struct FormKernels<Form::Inner, float>;
template struct FormKernels<Form::Inner, double>;
}  // namespace resode
