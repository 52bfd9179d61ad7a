// The kernels in float.
#include "resode/api_impl.hpp"

namespace resode {
template void forward<float>(const Network<float>&, const float*, Index, float*, bool, const RunOptions&);
template double cost<float>(const Network<float>&, const Cost<float>&, const float*, Index, const Gradients<float>*,
                         const RunOptions&, Index);
}  // namespace resode
