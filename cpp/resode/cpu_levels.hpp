// The x86-64 micro-architecture levels (x86-64-v2, -v3, -v4, as defined by the
// x86-64 psABI) that the running CPU and operating system support: each needs
// its CPUID feature bits, and the vector levels also need the OS to save the
// wider registers (XGETBV: YMM state for AVX, ZMM and opmask state for
// AVX-512). Compiled without level flags, so it runs on any x86-64 CPU.
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
#if defined(_MSC_VER)
#include <immintrin.h>
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

namespace resode::cpu {

// 0: below x86-64-v2 (or not x86-64); 2, 3, 4: the highest level supported.
inline int x86_64_level() {
#if defined(__x86_64__) || defined(_M_X64)
    unsigned r1[4] = {0, 0, 0, 0}, r7[4] = {0, 0, 0, 0}, rx[4] = {0, 0, 0, 0};  // eax ebx ecx edx
    auto cpuid = [](unsigned leaf, unsigned sub, unsigned* r) {
#if defined(_MSC_VER)
        int v[4];
        __cpuidex(v, static_cast<int>(leaf), static_cast<int>(sub));
        for (int i = 0; i < 4; ++i) r[i] = static_cast<unsigned>(v[i]);
#else
        __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
    };
    unsigned top[4];
    cpuid(0, 0, top);
    const unsigned max_leaf = top[0];
    cpuid(1, 0, r1);
    if (max_leaf >= 7) cpuid(7, 0, r7);
    cpuid(0x80000000u, 0, top);
    if (top[0] >= 0x80000001u) cpuid(0x80000001u, 0, rx);
    auto has = [](unsigned reg, int bit) { return ((reg >> bit) & 1u) != 0; };
    const unsigned ecx1 = r1[2], ebx7 = r7[1], ecxx = rx[2];

    // v2: CMPXCHG16B, LAHF/SAHF, POPCNT, SSE3, SSE4.1, SSE4.2, SSSE3
    const bool v2 = has(ecx1, 13) && has(ecxx, 0) && has(ecx1, 23) && has(ecx1, 0) && has(ecx1, 19) && has(ecx1, 20) &&
                    has(ecx1, 9);
    if (!v2) return 0;
    // the OS must save the registers: XCR0 bits 1-2 (SSE, AVX), 5-7 (opmask, ZMM)
    unsigned long long xcr0 = 0;
    if (has(ecx1, 27)) {  // OSXSAVE
#if defined(_MSC_VER)
        xcr0 = _xgetbv(0);
#else
        unsigned lo = 0, hi = 0;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = (static_cast<unsigned long long>(hi) << 32) | lo;
#endif
    }
    const bool os_avx = (xcr0 & 0x6) == 0x6, os_avx512 = (xcr0 & 0xe6) == 0xe6;
    // v3: AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE (and XSAVE)
    const bool v3 = os_avx && has(ecx1, 28) && has(ebx7, 5) && has(ebx7, 3) && has(ebx7, 8) && has(ecx1, 29) &&
                    has(ecx1, 12) && has(ecxx, 5) && has(ecx1, 22) && has(ecx1, 26);
    if (!v3) return 2;
    // v4: AVX512F, AVX512BW, AVX512CD, AVX512DQ, AVX512VL
    const bool v4 = os_avx512 && has(ebx7, 16) && has(ebx7, 30) && has(ebx7, 28) && has(ebx7, 17) && has(ebx7, 31);
    return v4 ? 4 : 3;
#else
    return 0;
#endif
}

}  // namespace resode::cpu
