// resode._cpu: the x86-64 level of the running CPU, asked before any kernel
// module is imported (plain C API: nothing here may need a newer CPU).
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "resode/cpu_levels.hpp"

namespace {

PyObject* x86_64_level(PyObject*, PyObject*) { return PyLong_FromLong(resode::cpu::x86_64_level()); }

PyMethodDef methods[] = {
    {"x86_64_level", x86_64_level, METH_NOARGS,
     "The highest x86-64 level (2, 3 or 4) that this CPU and OS support; 0 below x86-64-v2 or off x86-64."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT,
                      "_cpu",
                      "The running CPU's x86-64 level (private).",
                      -1,
                      methods,
                      nullptr,
                      nullptr,
                      nullptr,
                      nullptr};

}  // namespace

PyMODINIT_FUNC PyInit__cpu() { return PyModule_Create(&module); }
