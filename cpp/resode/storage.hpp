// Where a block's states x_k live between the forward and the backward sweep
// of cost_sweep: its memory policy.
//
// - running: no gradient; the forward sweep keeps only the running state.
// - all: every state of the block and every layer's cache (memory ~ L).
// - checkpoints (checkpoint_every = c in [1, L)): every c-th state; each
//   segment of c layers is recomputed, with its caches, just before its
//   adjoint, so that a block holds about L / c + 2c states (c ~ sqrt(L) makes it
//   O(sqrt(L))). The recomputation repeats the same operations: the results are
//   bitwise those of `all`.
// - reversible (schemes that can be inverted): no stored state; the backward
//   sweep reconstructs x_k from x_{k+1} by the inverse step (memory independent
//   of L; results equal up to the rounding error of the reconstruction).
//
// The backward sweep runs by segments [k0, k0 + seg) from the last; within one,
// x_k is at(k0, k). `all` is one segment of L layers, `reversible` L segments of one.
#pragma once

#include "resode/forms/common.hpp"
#include "resode/types.hpp"

#include <algorithm>

namespace resode {

enum class Storage { running, all, checkpoints, reversible };

struct StoragePlan {
    Storage kind = Storage::running;
    Index L = 0;
    Index seg = 0;       // layers per segment of the backward sweep
    Index segments = 0;  // segments of the backward sweep

    static StoragePlan choose(bool want_grad, bool reversible, Index checkpoint_every, Index L) {
        StoragePlan p;
        p.L = L;
        p.kind = !want_grad                                     ? Storage::running
                 : reversible                                   ? Storage::reversible
                 : checkpoint_every > 0 && checkpoint_every < L ? Storage::checkpoints
                                                                : Storage::all;
        p.seg = p.kind == Storage::reversible ? 1 : p.kind == Storage::checkpoints ? checkpoint_every : L;
        p.segments = (L + p.seg - 1) / p.seg;
        return p;
    }
    // d x block slabs of the workspace's states, checkpoints and layer caches (per cached array)
    Index state_slabs() const {
        switch (kind) {
            case Storage::running: return 1;
            case Storage::reversible: return 2;  // x_k and x_{k+1}
            default: return seg;                 // the states of a segment but its first
        }
    }
    Index checkpoint_slabs() const { return kind == Storage::checkpoints ? segments + 1 : 0; }  // + the running state
    Index cached_layers() const { return kind == Storage::running ? 0 : seg; }
};

// A block's states under a plan: views into the workspace's buffers. Slabs sit
// at multiples of the workspace's capacity (a multiple of 64 bytes), not of
// this block's n columns: Eigen picks alignment-dependent code paths that round
// differently, and a state must be computed alike wherever it lives (so that
// checkpointing is bitwise neutral).
template <class T>
class BlockStates {
public:
    BlockStates(const StoragePlan& plan, MatMap<T> x0, Mat<T>& states, Mat<T>& checkpoints, Mat<T>& cache, Index cached,
                Index capacity)
        : plan_(plan), x0_(x0), states_(states), checkpoints_(checkpoints), cache_(cache), cached_(cached),
          stride_(x0.rows() * capacity) {}

    // x_k while the forward sweep runs (x_0 is the block's input)
    MatMap<T> forward(Index k) {
        if (k == 0) return x0_;
        switch (plan_.kind) {
            case Storage::all: return slab(states_, k - 1);
            case Storage::checkpoints: return slab(checkpoints_, plan_.segments);  // the running state
            default: return slab(states_, 0);
        }
    }
    // the cache the forward sweep's layer k fills (only `all` keeps them from the forward sweep)
    T* forward_cache(Index k) { return plan_.kind == Storage::all ? cache(k) : nullptr; }
    // after the forward step that produced x_k
    void keep(Index k) {
        if (plan_.kind == Storage::checkpoints && k % plan_.seg == 0 && k < plan_.L)
            slab(checkpoints_, k / plan_.seg) = forward(k);
    }
    // x_k in the backward sweep's segment starting at k0 (k0 <= k <= k0 + seg)
    MatMap<T> at(Index k0, Index k) {
        if (plan_.kind == Storage::reversible) return slab(states_, (plan_.L - k) % 2);  // x_L: the running state
        if (k > k0) return slab(states_, k - k0 - 1);
        if (k == 0) return x0_;
        return slab(checkpoints_, k0 / plan_.seg);
    }
    // layer k's cache slot within its segment: `cached` arrays of d x block
    T* cache(Index k) {
        return plan_.cached_layers() > 0 ? cache_.data() + (k % plan_.seg) * cached_ * stride_ : nullptr;
    }

private:
    MatMap<T> slab(Mat<T>& buf, Index i) { return MatMap<T>(buf.data() + i * stride_, x0_.rows(), x0_.cols()); }

    const StoragePlan& plan_;
    MatMap<T> x0_;
    Mat<T>& states_;
    Mat<T>& checkpoints_;
    Mat<T>& cache_;
    Index cached_, stride_;
};

}  // namespace resode
