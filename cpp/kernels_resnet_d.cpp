// The kernels of the resnet_d form, every scheme, float and double.
#include "resode/api_impl.hpp"

namespace resode {
template struct FormKernels<Form::ResNetD, float>;
template struct FormKernels<Form::ResNetD, double>;
}  // namespace resode
