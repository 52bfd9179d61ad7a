// The few matrix products the forms are made of, over a block of samples (the
// columns): affine maps, transposed products, and the sums over samples that
// parameter gradients need. A faster product for some sizes is a change in one
// place (products.cpp). They are compiled once, out of line, rather than in
// every form's translation unit: each call covers a whole block, so the call
// costs nothing, and instantiating them per form made every form's translation
// unit compile several times slower.
#pragma once

#include "resode/types.hpp"

namespace resode::prod {

// out = alpha A x + b (b broadcast over columns)
template <class T>
void affine(MatMap<T> out, CRowMap<T> A, CMatMap<T> x, CVecMap<T> b, T alpha = T(1));
// xn = x + h (A s + b): an Euler step of an affine field, in one pass for small
// d; xn may be x; f is scratch of x's shape (for larger d)
template <class T>
void euler_affine(MatMap<T> xn, CRowMap<T> A, CMatMap<T> s, CVecMap<T> b, T h, CMatMap<T> x, MatMap<T> f);
// out = alpha A p
template <class T>
void apply(MatMap<T> out, CRowMap<T> A, CMatMap<T> p, T alpha = T(1));
// out = alpha A^T p
template <class T>
void apply_transpose(MatMap<T> out, CRowMap<T> A, CMatMap<T> p, T alpha = T(1));
// out += alpha A p
template <class T>
void add_apply(MatMap<T> out, T alpha, CRowMap<T> A, CMatMap<T> p);
// out += alpha A^T p
template <class T>
void add_transpose(MatMap<T> out, T alpha, CRowMap<T> A, CMatMap<T> p);
// g += alpha u v^T, summed over the columns (samples)
template <class T>
void add_outer(RowMap<T> g, T alpha, CMatMap<T> u, CMatMap<T> v);
// g += alpha * (row sums of u): a bias gradient over a block
template <class T>
void add_row_sums(VecMap<T> g, T alpha, CMatMap<T> u);

#define RESODE_PRODUCTS(T, EXTERN)                                                                                 \
    EXTERN template void affine<T>(MatMap<T>, CRowMap<T>, CMatMap<T>, CVecMap<T>, T);                              \
    EXTERN template void euler_affine<T>(MatMap<T>, CRowMap<T>, CMatMap<T>, CVecMap<T>, T, CMatMap<T>, MatMap<T>); \
    EXTERN template void apply<T>(MatMap<T>, CRowMap<T>, CMatMap<T>, T);                                           \
    EXTERN template void apply_transpose<T>(MatMap<T>, CRowMap<T>, CMatMap<T>, T);                                 \
    EXTERN template void add_apply<T>(MatMap<T>, T, CRowMap<T>, CMatMap<T>);                                       \
    EXTERN template void add_transpose<T>(MatMap<T>, T, CRowMap<T>, CMatMap<T>);                                   \
    EXTERN template void add_outer<T>(RowMap<T>, T, CMatMap<T>, CMatMap<T>);                                       \
    EXTERN template void add_row_sums<T>(VecMap<T>, T, CMatMap<T>);
RESODE_PRODUCTS(float, extern)
RESODE_PRODUCTS(double, extern)

}  // namespace resode::prod
