// Definitions behind api.hpp: the run-time form picks the sweep instantiation.
#pragma once

#include "resode/api.hpp"
#include "resode/sweep.hpp"

namespace resode {

template <class T>
void forward(const Network<T>& net, const T* X, Index N, T* out, bool trajectory, const RunOptions& opt) {
    with_form(net.form, [&](auto form) { forward_sweep<decltype(form)>(net, X, N, out, trajectory, opt); });
}

template <class T>
double cost(const Network<T>& net, const Cost<T>& c, const T* X, Index N, const Gradients<T>* grads,
            const RunOptions& opt, Index checkpoint_every) {
    return with_form(net.form, [&](auto form) {
        return cost_sweep<decltype(form)>(net, c, X, N, grads, opt, checkpoint_every);
    });
}

}  // namespace resode
