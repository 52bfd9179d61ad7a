// The kernels in double.
#include "resode/api_impl.hpp"

namespace resode {
template void forward<double>(const Network<double>&, const double*, Index, double*, bool, const RunOptions&);
template double cost<double>(const Network<double>&, const Cost<double>&, const double*, Index, const Gradients<double>*,
                         const RunOptions&, Index);
}  // namespace resode
