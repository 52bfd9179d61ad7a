// Samples are cut into fixed-size blocks; OpenMP threads take whole blocks and
// hand their results to `reduce` in increasing block order. The block size
// depends only on d and the dtype, and every block is computed the same way by
// whichever thread takes it, so results are bitwise independent of the thread
// count, and scratch memory is per thread, independent of N.
#pragma once

#include "resode/types.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace resode {

inline bool openmp_enabled() {
#ifdef _OPENMP
    return true;
#else
    return false;
#endif
}

// Threads an unqualified call would use (honours OMP_NUM_THREADS).
inline int default_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// Upper bound on threads for one call: more than a few per core only costs
// (results do not depend on it), and a failed thread creation aborts libgomp.
inline int max_threads() {
#ifdef _OPENMP
    return std::max(1, std::min(omp_get_thread_limit(), 4 * omp_get_num_procs()));
#else
    return 1;
#endif
}

inline int thread_id() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// Samples per block. Small d: about 32 KiB of states per block, so that a
// layer's working set stays in cache, within [128, 2048] samples. Large d: each
// product packs its d x d operand once per block and layer, so a block of at
// least 4 d samples amortises that, as long as a slab stays within 1 MiB (L2).
// Measured in float64 (alternating runs, medians): a floor of 128 samples made
// d = 256 about 12 % faster than 64; this rule's 256, 512 and 512 samples at
// d = 64, 128 and 256 then gained 3-10 % over 128, and 1024 lost at d = 256.
// For d <= 16, a sweep that keeps `stored` d-vectors per sample (the states
// and caches of L layers) takes fewer samples, down to 64, so that they stay
// within about 1 MiB (L2): at d = 4 and L = 200 a block of 2048 samples kept
// 13 MB a thread, and every layer of the backward sweep came from memory.
// Every sweep of one network takes the same size: per-sample results, and the
// order of sums over samples, then do not depend on which sweep computed them.
inline Index block_size(Index d, std::size_t elem_size, Index stored = 0) {
    d = std::max<Index>(d, 1);
    const Index size = std::max<Index>(static_cast<Index>(elem_size), 1);
    // two divisions: d * elem_size could overflow
    const Index in_l1 = std::clamp<Index>(Index(32) * 1024 / d / size / 16 * 16, 128, 2048);
    const Index amortising = std::min<Index>(Index(1024) * 1024 / d / size, d < 512 ? 4 * d : 2048) / 16 * 16;
    const Index base = std::max(in_l1, std::min<Index>(amortising, 2048));
    if (d > 16 || stored <= 0) return base;
    const Index in_l2 = Index(1024) * 1024 / d / size / stored / 16 * 16;
    return std::clamp<Index>(in_l2, 64, base);
}

struct RunOptions {
    int threads = 0;                    // <= 0: default_threads()
    std::function<bool()> interrupted;  // asked on the calling thread only
};

// Cooperative cancellation. Threads poll it between layers; the calling thread
// (OpenMP thread 0) also asks RunOptions::interrupted, at most every 20 ms.
class StopToken {
public:
    explicit StopToken(std::function<bool()> interrupted) : interrupted_(std::move(interrupted)) {}

    bool poll() {
        if (stop_.load(std::memory_order_relaxed)) return true;
        // the clock every 16th poll: at small d a layer of a block takes about a
        // microsecond, and reading the clock each time took 3 % of a gradient (profiled)
        if (interrupted_ && thread_id() == 0 && ++polls_ % 16 == 0) {
            const auto now = std::chrono::steady_clock::now();
            if (now - last_check_ >= std::chrono::milliseconds(20)) {
                last_check_ = now;
                if (interrupted_()) {
                    was_interrupted_ = true;
                    request_stop();
                }
            }
        }
        return stop_.load(std::memory_order_relaxed);
    }
    void request_stop() { stop_.store(true, std::memory_order_relaxed); }
    bool stopped() const { return stop_.load(std::memory_order_relaxed); }
    bool was_interrupted() const { return was_interrupted_; }

private:
    std::atomic<bool> stop_{false};
    std::function<bool()> interrupted_;
    std::chrono::steady_clock::time_point last_check_{};
    unsigned polls_ = 0;  // thread 0's
    bool was_interrupted_ = false;
};

struct BlockRange {
    Index N, size;
    // At most max_size samples a block, in as few blocks as that allows, of
    // nearly equal size (a multiple of 16): a mini-batch of 200 at d = 48 made
    // blocks of 192 and 8, and one thread did all the work. The sizes depend on
    // N and max_size only, never on the thread count.
    BlockRange(Index N_, Index max_size) : N(N_), size(max_size) {
        if (N > 0) {
            const Index count = (N + max_size - 1) / max_size;
            size = std::min(max_size, ((N + count - 1) / count + 15) / 16 * 16);
        }
    }
    Index count() const { return (N + size - 1) / size; }
    // Columns a workspace needs: the block size, or fewer when N is smaller,
    // rounded up to 16 so that slabs at multiples of it stay 64-byte aligned.
    Index capacity() const { return std::min(size, (std::max<Index>(N, 1) + 15) / 16 * 16); }
    Index start(Index blk) const { return blk * size; }
    Index cols(Index blk) const { return std::min(size, N - blk * size); }
};

// Runs body(blk, workspace) for every block in parallel, then
// reduce(blk, workspace) in increasing block order. make() builds one
// workspace per thread. Exceptions and interruptions stop the other threads
// between layers and are rethrown here, after the parallel region.
template <class Make, class Body, class Reduce>
void ordered_blocks(Index n_blocks, const RunOptions& opt, Make make, Body body, Reduce reduce) {
    StopToken stop(opt.interrupted);
    std::exception_ptr error;
    std::mutex error_mutex;
    auto fail = [&] {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        stop.request_stop();
    };
    const int wanted = std::min(opt.threads > 0 ? opt.threads : default_threads(), max_threads());
    const int threads = static_cast<int>(std::max<Index>(1, std::min<Index>(wanted, n_blocks)));
    (void)threads;

#pragma omp parallel num_threads(threads)
    {
        std::optional<decltype(make())> ws;
        try {
            ws.emplace(make());
        } catch (...) {
            fail();
        }
#pragma omp for ordered schedule(static, 1)
        for (Index blk = 0; blk < n_blocks; ++blk) {
            bool done = false;
            try {
                if (ws && !stop.poll()) {
                    body(blk, *ws, stop);
                    done = !stop.stopped();
                }
            } catch (...) {
                fail();
            }
#pragma omp ordered
            {
                if (done && !stop.stopped()) {
                    try {
                        reduce(blk, *ws);
                    } catch (...) {
                        fail();
                    }
                }
            }
        }
    }
    if (error) std::rethrow_exception(error);
    if (stop.was_interrupted()) throw Interrupted();
}

}  // namespace resode
