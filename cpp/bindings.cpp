// The only file that knows Python (with cpu_levels.cpp): checks the arrays handed over by the
// Python layer (which has already converted and validated them; these checks
// keep a direct caller of _core from crashing the interpreter), releases the
// GIL, runs a kernel, and maps its errors to Python exceptions.
#include "resode/activations.hpp"
#include "resode/api.hpp"
#include "resode/opening.hpp"
#include "resode/optimisers.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;
using resode::Index;

#ifndef RESODE_VERSION
#define RESODE_VERSION "0+unknown"
#endif
// One module per ISA level (CMakeLists.txt): its name and level.
#ifndef RESODE_MODULE
#define RESODE_MODULE _core
#endif
#ifndef RESODE_ISA
#define RESODE_ISA "unknown"
#endif
// PYBIND11_MODULE pastes its argument; this expands RESODE_MODULE first.
#define RESODE_PYBIND11_MODULE(name, m) PYBIND11_MODULE(name, m)

namespace {

std::string shape_str(const std::vector<Index>& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

// The data of `a`, after checking its dtype and C order.
template <class T>
const T* checked_layout(const py::array& a, const char* name) {
    if (!a.dtype().equal(py::dtype::of<T>()))
        throw py::type_error(std::string(name) + " must have dtype " + py::str(py::dtype::of<T>()).cast<std::string>() +
                             ", got " + py::str(a.dtype()).cast<std::string>());
    if (!(a.flags() & py::array::c_style) || !(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
        throw py::value_error(std::string(name) + " must be an aligned C-contiguous array");
    return static_cast<const T*>(a.data());
}

// ... and its shape.
template <class T>
const T* checked(const py::array& a, const char* name, const std::vector<Index>& shape) {
    checked_layout<T>(a, name);
    std::vector<Index> got(a.shape(), a.shape() + a.ndim());
    if (got != shape)
        throw py::value_error(std::string(name) + " must have shape " + shape_str(shape) + ", got " + shape_str(got));
    return static_cast<const T*>(a.data());
}

// The caller's ndarray itself, never a converted temporary: the kernel reads
// its data after this returns, so it must live as long as the argument does.
py::array borrow_array(const py::object& o, const char* name) {
    if (!py::isinstance<py::array>(o))
        throw py::type_error(std::string(name) + " must be a NumPy array, got " +
                             py::str(py::type::of(o)).cast<std::string>());
    return py::reinterpret_borrow<py::array>(o);
}

template <class T>
const T* optional_checked(const py::object& o, const char* name, const std::vector<Index>& shape) {
    if (o.is_none()) return nullptr;
    return checked<T>(borrow_array(o, name), name, shape);
}

resode::RunOptions run_options(std::optional<int> threads) {
    if (threads && *threads < 1) throw py::value_error("threads must be None or an integer >= 1");
    resode::RunOptions opt;
    opt.threads = threads.value_or(0);
    // Called on the calling thread between layers: lets Ctrl-C stop a kernel.
    // Must not throw: it runs inside the OpenMP region. Any failure stops.
    opt.interrupted = []() noexcept {
        try {
            py::gil_scoped_acquire gil;
            return PyErr_CheckSignals() != 0;
        } catch (...) {
            return true;
        }
    };
    return opt;
}

// Runs a kernel without the GIL; an interruption re-raises the Python
// exception (KeyboardInterrupt) that the signal check set.
template <class Fn>
auto without_gil(Fn&& fn) {
    try {
        py::gil_scoped_release release;
        return fn();
    } catch (const resode::Interrupted&) {
        if (PyErr_Occurred()) throw py::error_already_set();
        throw;
    }
}

// The network's options as the Python layer passes them.
struct NetOptions {
    double T = 1;
    std::string form, activation, scheme;
    double gamma = 0;
    bool project = false;
    Index n_layers = 0;  // 0: one layer per parameter group
};

template <class T>
resode::Network<T> network(const py::array& X, const py::array& V, const py::array& b, const NetOptions& o) {
    if (X.ndim() != 2) throw py::value_error("X must be 2-D (N, d)");
    if (V.ndim() < 1 || b.ndim() < 1) throw py::value_error("V and b must have a leading layer axis");
    resode::Network<T> net;
    net.d = X.shape(1);
    net.groups = V.shape(0);
    net.L = o.n_layers > 0 ? o.n_layers : net.groups;
    if (net.d < 1) throw py::value_error("d = X.shape[1] must be >= 1");
    if (net.groups < 1) throw py::value_error("V must have at least one layer");
    if (o.n_layers < 0) throw py::value_error("n_layers must be >= 1");
    net.share = (net.L + net.groups - 1) / net.groups;
    if ((net.L + net.share - 1) / net.share != net.groups)
        throw py::value_error("n_layers = " + std::to_string(net.L) + " cannot be cut into " +
                              std::to_string(net.groups) + " groups of equal consecutive layers");
    if (!(o.T > 0) || !std::isfinite(o.T)) throw py::value_error("T must be finite and > 0");
    if (!(o.gamma >= 0) || !std::isfinite(o.gamma)) throw py::value_error("gamma must be finite and >= 0");
    net.h = T(o.T / double(net.L));
    net.form = resode::parse_form(o.form);
    net.scheme = resode::parse_scheme(o.scheme);
    net.activation = resode::parse_activation(o.activation);
    net.project = o.project;
    net.gamma = T(o.gamma);
    if (resode::is_hamiltonian(net.form) && net.d % 2 != 0)
        throw py::value_error("form '" + o.form + "' splits the state in halves: d must be even, got " +
                              std::to_string(net.d));
    if (resode::is_partitioned(net.scheme) && !resode::is_hamiltonian(net.form))
        throw py::value_error("scheme '" + o.scheme + "' needs form 'hamiltonian' or 'hamiltonian_hr'");
    // the form fixes the per-group shape; here only the count per group is checked
    auto sized = [&](const py::array& a, const char* name, Index per_group) {
        const T* data = checked_layout<T>(a, name);
        if (a.shape(0) != net.groups || a.size() != net.groups * per_group)
            throw py::value_error(std::string(name) + " must hold " + std::to_string(per_group) +
                                  " values per layer for form '" + o.form + "' at d = " + std::to_string(net.d));
        return data;
    };
    net.V = sized(V, "V", resode::v_size(net.form, net.d));
    net.b = sized(b, "b", resode::b_size(net.form, net.d));
    return net;
}

template <class T>
py::array forward_impl(const py::array& X, const py::array& V, const py::array& b, const NetOptions& o,
                       std::optional<int> threads, bool trajectory) {
    auto net = network<T>(X, V, b, o);
    const Index N = X.shape(0);
    const T* x = checked<T>(X, "X", {N, net.d});
    auto opt = run_options(threads);
    py::array_t<T> out = trajectory ? py::array_t<T>({net.L + 1, N, net.d}) : py::array_t<T>({N, net.d});
    T* data = out.mutable_data();
    without_gil([&] { resode::forward(net, x, N, data, trajectory, opt); });
    return std::move(out);
}

template <class T>
py::tuple cost_impl(const py::array& X, const py::object& targets, const py::array& V, const py::array& b,
                    const py::object& W, const py::object& mu, const py::object& sample_weight, const NetOptions& o,
                    const std::string& head, double w1, double w2, double w_head, bool grad, bool input_grad,
                    bool costates, std::optional<int> threads, Index checkpoint_every, bool reversible) {
    auto net = network<T>(X, V, b, o);
    const Index N = X.shape(0), d = net.d, L = net.L;
    const T* x = checked<T>(X, "X", {N, d});
    resode::Cost<T> c;
    c.head = resode::parse_head(head);
    for (double w : {w1, w2, w_head})
        if (!(w >= 0) || !std::isfinite(w)) throw py::value_error("w1, w2 and w_head must be finite and >= 0");
    if (w1 > 0 && c.head != resode::Head::State) throw py::value_error("w1 > 0 needs head='state'");
    c.w1 = w1;
    c.w2 = w2;
    c.w_head = w_head;
    if (c.head == resode::Head::State) {
        c.m = d;
        if (!W.is_none() || !mu.is_none()) throw py::value_error("W and mu must be None for head='state'");
    } else {
        if (W.is_none() || mu.is_none()) throw py::value_error("W and mu are required for head='" + head + "'");
        const py::array Wa = borrow_array(W, "W");
        if (Wa.ndim() != 2) throw py::value_error("W must be 2-D (m, d)");
        c.m = Wa.shape(0);
        if (c.m < 1) throw py::value_error("W must have at least one row");
        if (c.head == resode::Head::Softmax && c.m < 2) throw py::value_error("W must have C >= 2 rows for softmax");
        if (c.head == resode::Head::Logistic && c.m != 1) throw py::value_error("W must have 1 row for logistic");
        c.W = checked<T>(Wa, "W", {c.m, d});
        c.mu = checked<T>(borrow_array(mu, "mu"), "mu", {c.m});
    }
    if (c.head == resode::Head::State || c.head == resode::Head::Linear) {
        c.Y = checked<T>(borrow_array(targets, "Y"), "Y", {N, c.m});
    } else {
        c.labels = checked<std::int64_t>(borrow_array(targets, "Y"), "Y", {N});
        const std::int64_t classes = c.head == resode::Head::Softmax ? c.m : 2;
        for (Index i = 0; i < N; ++i)
            if (c.labels[i] < 0 || c.labels[i] >= classes)
                throw py::value_error("Y: labels must lie in [0, " + std::to_string(classes) + ")");
    }
    c.sample_weight = optional_checked<T>(sample_weight, "sample_weight", {N});
    auto opt = run_options(threads);

    const bool params = c.head != resode::Head::State;
    py::array_t<T> dV(std::vector<py::ssize_t>(V.shape(), V.shape() + V.ndim()));
    py::array_t<T> db(std::vector<py::ssize_t>(b.shape(), b.shape() + b.ndim()));
    py::object dW = py::none(), dmu = py::none(), dX = py::none(), P = py::none();
    resode::Gradients<T> g;
    if (grad) {
        g.dV = dV.mutable_data();
        g.db = db.mutable_data();
        if (params) {
            auto aW = py::array_t<T>({c.m, d}), amu = py::array_t<T>({c.m});
            g.dW = aW.mutable_data();
            g.dmu = amu.mutable_data();
            dW = aW;
            dmu = amu;
        }
        if (input_grad) {
            auto aX = py::array_t<T>({N, d});
            g.dX = aX.mutable_data();
            dX = aX;
        }
        if (costates) {
            auto aP = py::array_t<T>({L + 1, N, d});
            g.P = aP.mutable_data();
            P = aP;
        }
    }
    if (checkpoint_every < 0) throw py::value_error("checkpoint_every must be >= 0 (0: store every state)");
    if (reversible && !resode::is_partitioned(net.scheme))
        throw py::value_error("reversible needs scheme 'symplectic_euler' or 'verlet'");
    if (reversible && net.project) throw py::value_error("reversible cannot be combined with project");
    const double loss =
        without_gil([&] { return resode::cost(net, c, x, N, grad ? &g : nullptr, opt, checkpoint_every, reversible); });
    if (!grad) return py::make_tuple(loss, py::none(), py::none(), py::none(), py::none(), py::none(), py::none());
    return py::make_tuple(loss, dV, db, dW, dmu, dX, P);
}

// The vector-Jacobian product of forward (G: (N, d)) or trajectory (G: (L+1, N, d)):
// the gradient sweep of the cost sum_k G_k . x_k, returned as (dX, dV, db).
template <class T>
py::tuple vjp_impl(const py::array& X, const py::array& V, const py::array& b, const NetOptions& o, const py::array& G,
                   bool trajectory, std::optional<int> threads, Index checkpoint_every) {
    auto net = network<T>(X, V, b, o);
    const Index N = X.shape(0), d = net.d, L = net.L;
    const T* x = checked<T>(X, "X", {N, d});
    const T* g = trajectory ? checked<T>(G, "cotangent", {L + 1, N, d}) : checked<T>(G, "cotangent", {N, d});
    if (checkpoint_every < 0) throw py::value_error("checkpoint_every must be >= 0 (0: store every state)");
    resode::Cost<T> c;
    c.head = resode::Head::Cotangent;
    c.m = d;
    c.Y = trajectory ? g + L * N * d : g;
    if (trajectory) c.state_cotangents = g;
    auto opt = run_options(threads);
    py::array_t<T> dV(std::vector<py::ssize_t>(V.shape(), V.shape() + V.ndim()));
    py::array_t<T> db(std::vector<py::ssize_t>(b.shape(), b.shape() + b.ndim()));
    py::array_t<T> dX({N, d});
    resode::Gradients<T> grads;
    grads.dV = dV.mutable_data();
    grads.db = db.mutable_data();
    grads.dX = dX.mutable_data();
    without_gil([&] { resode::cost(net, c, x, N, &grads, opt, checkpoint_every, false); });
    return py::make_tuple(dX, dV, db);
}

#ifdef RESODE_WITH_ANALYSIS
template <class T>
py::tuple tangent_impl(const py::array& X, const py::array& V, const py::array& b, const NetOptions& o,
                       const py::object& Xdot, const py::object& dV, const py::object& db, bool per_layer,
                       std::optional<int> threads) {
    auto net = network<T>(X, V, b, o);
    const Index N = X.shape(0), d = net.d, L = net.L;
    const T* x = checked<T>(X, "X", {N, d});
    const T* xdot = optional_checked<T>(Xdot, "dX", {N, d});
    if (dV.is_none() != db.is_none()) throw py::value_error("dV and db must be given together");
    const T *dv = nullptr, *dbias = nullptr;
    if (!dV.is_none()) {
        const auto direction = network<T>(X, borrow_array(dV, "dV"), borrow_array(db, "db"), o);
        dv = direction.V;
        dbias = direction.b;
    }
    auto opt = run_options(threads);
    py::array_t<T> x_out({N, d});
    py::array_t<T> out = per_layer ? py::array_t<T>({L + 1, N, d}) : py::array_t<T>({N, d});
    T* xo = x_out.mutable_data();
    T* o_ = out.mutable_data();
    without_gil([&] { resode::tangent(net, x, N, xdot, dv, dbias, xo, o_, per_layer, opt); });
    return py::make_tuple(x_out, out);
}

template <class T>
py::tuple layer_hamiltonian_impl(const py::array& X, const py::array& P, const py::array& V, const py::array& b,
                                 const NetOptions& o, std::optional<int> threads) {
    auto net = network<T>(X, V, b, o);
    if (net.groups != 1 || net.L != 1) throw py::value_error("V and b must hold one layer");
    const Index N = X.shape(0), d = net.d;
    const T* x = checked<T>(X, "X", {N, d});
    const T* p = checked<T>(P, "P", {N, d});
    auto opt = run_options(threads);
    py::array_t<T> dV(std::vector<py::ssize_t>(V.shape() + 1, V.shape() + V.ndim()));
    py::array_t<T> db(std::vector<py::ssize_t>(b.shape() + 1, b.shape() + b.ndim()));
    T* gv = dV.mutable_data();
    T* gb = db.mutable_data();
    const double value = without_gil([&] { return resode::layer_hamiltonian(net, x, p, N, gv, gb, opt); });
    return py::make_tuple(value, dV, db);
}

#endif  // RESODE_WITH_ANALYSIS

// Calls impl<T> with T the dtype of X.
template <template <class> class Impl, class... Args>
auto by_dtype(const py::array& X, Args&&... args) {
    if (X.dtype().equal(py::dtype::of<double>())) return Impl<double>::run(X, std::forward<Args>(args)...);
    if (X.dtype().equal(py::dtype::of<float>())) return Impl<float>::run(X, std::forward<Args>(args)...);
    throw py::type_error("X must have dtype float32 or float64, got " + py::str(X.dtype()).cast<std::string>());
}

template <class T>
struct Forward {
    template <class... A>
    static py::array run(A&&... a) {
        return forward_impl<T>(std::forward<A>(a)...);
    }
};
template <class T>
struct CostCall {
    template <class... A>
    static py::tuple run(A&&... a) {
        return cost_impl<T>(std::forward<A>(a)...);
    }
};
template <class T>
struct VjpCall {
    template <class... A>
    static py::tuple run(A&&... a) {
        return vjp_impl<T>(std::forward<A>(a)...);
    }
};
#ifdef RESODE_WITH_ANALYSIS
template <class T>
struct TangentCall {
    template <class... A>
    static py::tuple run(A&&... a) {
        return tangent_impl<T>(std::forward<A>(a)...);
    }
};
template <class T>
struct LayerHamiltonianCall {
    template <class... A>
    static py::tuple run(A&&... a) {
        return layer_hamiltonian_impl<T>(std::forward<A>(a)...);
    }
};
#endif

// The data of a parameter-sized array the step writes: checked like any input, and writeable.
template <class T>
T* writeable(const py::array& a, const char* name) {
    checked_layout<T>(a, name);
    if (!a.writeable()) throw py::value_error(std::string(name) + " must be writeable");
    return static_cast<T*>(const_cast<void*>(a.data()));
}

// One Adam step over parameter arrays in place, their moments kept in two flat
// vectors m, v (the arrays' values one after the other, in order).
template <class T>
void adam_impl(const std::vector<py::array>& params, const std::vector<py::array>& grads, const py::array& m,
               const py::array& v, const resode::optimiser::Adam& step) {
    // (the arrays are the caller's own: borrowed by the binding below, never converted copies)
    if (params.size() != grads.size())
        throw py::value_error("params and grads must have the same length, got " + std::to_string(params.size()) +
                              " and " + std::to_string(grads.size()));
    Index total = 0;
    for (std::size_t k = 0; k < params.size(); ++k) {
        writeable<T>(params[k], "params");
        checked<T>(grads[k], "grads", std::vector<Index>(params[k].shape(), params[k].shape() + params[k].ndim()));
        total += params[k].size();
    }
    T* m_ = writeable<T>(m, "m");
    T* v_ = writeable<T>(v, "v");
    if (m.ndim() != 1 || v.ndim() != 1 || m.size() != total || v.size() != total)
        throw py::value_error("m and v must be 1-D with the parameters' " + std::to_string(total) + " values");
    if (!(step.t >= 1)) throw py::value_error("t must be >= 1");
    Index offset = 0;
    for (std::size_t k = 0; k < params.size(); ++k) {
        const Index n = params[k].size();
        resode::optimiser::adam(step, static_cast<T*>(const_cast<void*>(params[k].data())),
                                static_cast<const T*>(grads[k].data()), m_ + offset, v_ + offset, n);
        offset += n;
    }
}

// The opening layer's arrays: X (N, p), K0 (d, p), c0 (d,), of one dtype.
struct OpeningShape { Index N, p, d; };
template <class T>
OpeningShape opening_shape(const py::array& X, const py::array& K0, const py::array& c0) {
    if (X.ndim() != 2 || K0.ndim() != 2) throw py::value_error("X and K0 must be 2-D");
    const OpeningShape s{X.shape(0), X.shape(1), K0.shape(0)};
    checked<T>(X, "X", {s.N, s.p});
    checked<T>(K0, "K0", {s.d, s.p});
    checked<T>(c0, "c0", {s.d});
    return s;
}

template <class T>
py::tuple opening_forward_impl(const py::array& X, const py::array& K0, const py::array& c0, const std::string& name) {
    const auto a = resode::parse_activation(name);
    const OpeningShape s = opening_shape<T>(X, K0, c0);
    py::array_t<T> z({s.N, s.d});
    py::array_t<T> x1 = a == resode::Activation::Identity ? z : py::array_t<T>({s.N, s.d});
    T* zd = z.mutable_data();
    T* x1d = x1.mutable_data();
    without_gil([&] {
        resode::opening::forward(a, static_cast<const T*>(X.data()), s.N, s.p, static_cast<const T*>(K0.data()),
                                 static_cast<const T*>(c0.data()), s.d, zd, x1d);
    });
    return py::make_tuple(x1, z);
}

template <class T>
py::tuple opening_backward_impl(const py::array& X, const py::array& K0, const py::array& c0, const py::array& z,
                                const py::array& p1, const std::string& name, double weight, bool input_grad) {
    const auto a = resode::parse_activation(name);
    const OpeningShape s = opening_shape<T>(X, K0, c0);
    checked<T>(z, "z", {s.N, s.d});
    checked<T>(p1, "p1", {s.N, s.d});
    T* q = writeable<T>(p1, "p1");
    py::array_t<T> dK0({s.d, s.p}), dc0(std::vector<py::ssize_t>{s.d});
    py::object dX = py::none();
    T* dXd = nullptr;
    if (input_grad) {
        auto aX = py::array_t<T>({s.N, s.p});
        dXd = aX.mutable_data();
        dX = aX;
    }
    T* dK0d = dK0.mutable_data();
    T* dc0d = dc0.mutable_data();
    without_gil([&] {
        resode::opening::backward(a, static_cast<const T*>(X.data()), s.N, s.p, static_cast<const T*>(K0.data()),
                                  static_cast<const T*>(c0.data()), s.d, static_cast<const T*>(z.data()), q, T(weight),
                                  dK0d, dc0d, dXd);
    });
    return py::make_tuple(dK0, dc0, dX);
}

std::string simd_instruction_sets() { return Eigen::SimdInstructionSetsInUse(); }

}  // namespace

RESODE_PYBIND11_MODULE(RESODE_MODULE, m) {
    m.doc() = "resode's compiled kernels (private: use the functions of the resode package)";

    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const resode::NonFinite& e) {
            py::object cls = py::module_::import("resode._errors").attr("NonFiniteError");
            py::object err = cls(e.what(), e.layer, e.samples, e.stage);
            PyErr_SetObject(cls.ptr(), err.ptr());
        } catch (const resode::Interrupted&) {
            PyErr_SetNone(PyExc_KeyboardInterrupt);
        } catch (const std::invalid_argument& e) {
            PyErr_SetString(PyExc_ValueError, e.what());
        }
    });

    // module_local: every level's module binds its own NetOptions, and two may be loaded
    py::class_<NetOptions>(m, "NetOptions", py::module_local(),
                           "The network's options (private: built by resode.functional)")
        .def(py::init([](double T, std::string form, std::string activation, std::string scheme, double gamma,
                         bool project, Index n_layers) {
                 return NetOptions{T,       std::move(form), std::move(activation), std::move(scheme), gamma,
                                   project, n_layers};
             }),
             py::arg("T"), py::arg("form"), py::arg("activation"), py::arg("scheme") = "euler", py::arg("gamma") = 0.0,
             py::arg("project") = false, py::arg("n_layers") = 0)
        .def_property_readonly(
            "fields",
            [](const NetOptions& o) {
                return py::make_tuple(o.T, o.form, o.activation, o.scheme, o.gamma, o.project, o.n_layers);
            },
            "The constructor's arguments, in order (to rebuild the options in another level's module).");

    m.def(
        "forward",
        [](const py::array& X, const py::array& V, const py::array& b, const NetOptions& o, std::optional<int> threads,
           bool trajectory) { return by_dtype<Forward>(X, V, b, o, threads, trajectory); },
        py::arg("X"), py::arg("V"), py::arg("b"), py::arg("options"), py::arg("threads"), py::arg("trajectory"),
        "Final states (N, d), or the trajectory (L+1, N, d).");

    m.def(
        "cost",
        [](const py::array& X, const py::object& Y, const py::array& V, const py::array& b, const py::object& W,
           const py::object& mu, const py::object& sample_weight, const NetOptions& o, const std::string& head,
           double w1, double w2, double w_head, bool grad, bool input_grad, bool costates, std::optional<int> threads,
           Index checkpoint_every, bool reversible) {
            return by_dtype<CostCall>(X, Y, V, b, W, mu, sample_weight, o, head, w1, w2, w_head, grad, input_grad,
                                      costates, threads, checkpoint_every, reversible);
        },
        py::arg("X"), py::arg("Y"), py::arg("V"), py::arg("b"), py::arg("W"), py::arg("mu"), py::arg("sample_weight"),
        py::arg("options"), py::arg("head"), py::arg("w1"), py::arg("w2"), py::arg("w_head"), py::arg("grad"),
        py::arg("input_grad"), py::arg("costates") = false, py::arg("threads") = py::none(),
        py::arg("checkpoint_every") = 0, py::arg("reversible") = false,
        "(loss, dV, db, dW, dmu, dX, P); the gradients are None unless grad.");

    m.def(
        "vjp",
        [](const py::array& X, const py::array& V, const py::array& b, const NetOptions& o, const py::array& G,
           bool trajectory, std::optional<int> threads,
           Index checkpoint_every) { return by_dtype<VjpCall>(X, V, b, o, G, trajectory, threads, checkpoint_every); },
        py::arg("X"), py::arg("V"), py::arg("b"), py::arg("options"), py::arg("cotangent"), py::arg("trajectory"),
        py::arg("threads") = py::none(), py::arg("checkpoint_every") = 0,
        "(dX, dV, db): the cotangent (N, d) of the final states, or (L+1, N, d) of the trajectory, pulled back.");

#ifdef RESODE_WITH_ANALYSIS  // the lowest level's module only (CMakeLists.txt)
    m.def(
        "tangent",
        [](const py::array& X, const py::array& V, const py::array& b, const NetOptions& o, const py::object& Xdot,
           const py::object& dV, const py::object& db, bool per_layer,
           std::optional<int> threads) { return by_dtype<TangentCall>(X, V, b, o, Xdot, dV, db, per_layer, threads); },
        py::arg("X"), py::arg("V"), py::arg("b"), py::arg("options"), py::arg("dX"), py::arg("dV"), py::arg("db"),
        py::arg("per_layer"), py::arg("threads"),
        "(final states (N, d), their derivative along (dX, dV, db): (N, d), or (L+1, N, d) per layer).");

    m.def(
        "layer_hamiltonian",
        [](const py::array& X, const py::array& P, const py::array& V, const py::array& b, const NetOptions& o,
           std::optional<int> threads) { return by_dtype<LayerHamiltonianCall>(X, P, V, b, o, threads); },
        py::arg("X"), py::arg("P"), py::arg("V"), py::arg("b"), py::arg("options"), py::arg("threads"),
        "(sum_i P_i . f(X_i), its gradient with respect to V and b) for one layer (V, b with a leading axis of 1).");
#endif

    m.def(
        "activation",
        [](const py::array& x, const std::string& name, bool derivative) {
            const auto act = resode::parse_activation(name);
            auto run = [&](auto zero) -> py::array {
                using T = decltype(zero);
                const T* in = checked_layout<T>(x, "x");
                py::array_t<T> out(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
                T* o = out.mutable_data();
                without_gil([&] {
                    if (derivative)
                        resode::activation::derivative(act, in, o, x.size());
                    else
                        resode::activation::value(act, in, o, x.size());
                });
                return out;
            };
            if (x.dtype().equal(py::dtype::of<float>())) return run(0.0f);
            return run(0.0);
        },
        py::arg("x"), py::arg("name"), py::arg("derivative") = false,
        "s(x) or s'(x) elementwise, as the kernels compute it (float32 or float64, C order, any shape).");

    m.def(
        "opening_forward",
        [](const py::array& X, const py::array& K0, const py::array& c0, const std::string& activation) {
            if (X.dtype().equal(py::dtype::of<float>())) return opening_forward_impl<float>(X, K0, c0, activation);
            return opening_forward_impl<double>(X, K0, c0, activation);
        },
        py::arg("X"), py::arg("K0"), py::arg("c0"), py::arg("activation"),
        "(x1, z): the opening layer's z = X K0^T + c0 and x1 = s0(z) (the same array for the identity).");

    m.def(
        "opening_backward",
        [](const py::array& X, const py::array& K0, const py::array& c0, const py::array& z, const py::array& p1,
           const std::string& activation, double weight, bool input_grad) {
            if (X.dtype().equal(py::dtype::of<float>()))
                return opening_backward_impl<float>(X, K0, c0, z, p1, activation, weight, input_grad);
            return opening_backward_impl<double>(X, K0, c0, z, p1, activation, weight, input_grad);
        },
        py::arg("X"), py::arg("K0"), py::arg("c0"), py::arg("z"), py::arg("p1"), py::arg("activation"),
        py::arg("weight"), py::arg("input_grad"),
        "(dK0, dc0, dX or None) from the costate p1 = dJ/dx1, which is overwritten with p1 * s0'(z); the "
        "penalty's gradient weight (K0, c0) is added.");

    m.def(
        "adam_step",
        [](const std::vector<py::object>& params, const std::vector<py::object>& grads, const py::object& m,
           const py::object& v, double lr, double beta1, double beta2, double eps, long long t) {
            const resode::optimiser::Adam step{lr, beta1, beta2, eps, t};
            auto borrowed = [](const std::vector<py::object>& objects, const char* name) {
                std::vector<py::array> arrays;
                for (const auto& o : objects) arrays.push_back(borrow_array(o, name));
                return arrays;
            };
            const py::array m_ = borrow_array(m, "m"), v_ = borrow_array(v, "v");
            const auto p = borrowed(params, "params"), g = borrowed(grads, "grads");
            if (m_.dtype().equal(py::dtype::of<float>())) return adam_impl<float>(p, g, m_, v_, step);
            return adam_impl<double>(p, g, m_, v_, step);
        },
        py::arg("params"), py::arg("grads"), py::arg("m"), py::arg("v"), py::arg("lr"), py::arg("beta1"),
        py::arg("beta2"), py::arg("eps"), py::arg("t"),
        "Adam's step t >= 1 on the parameter arrays in place; m, v hold their moments, concatenated.");

    m.def(
        "cached_arrays",
        [](const std::string& form, const std::string& scheme) {
            return resode::cached_arrays(resode::parse_form(form), resode::parse_scheme(scheme));
        },
        py::arg("form"), py::arg("scheme"), "d x block arrays a layer's step keeps for the backward sweep.");

    m.def(
        "block_size",
        [](Index d, const py::dtype& dtype, Index stored) {
            if (d < 1) throw py::value_error("d must be >= 1");
            if (stored < 0) throw py::value_error("stored must be >= 0");
            if (!dtype.equal(py::dtype::of<double>()) && !dtype.equal(py::dtype::of<float>()))
                throw py::type_error("dtype must be float32 or float64");
            return resode::block_size(d, static_cast<std::size_t>(dtype.itemsize()), stored);
        },
        py::arg("d"), py::arg("dtype"), py::arg("stored") = 0,
        "Samples per block for state dimension d and this dtype, when a sweep keeps `stored` d-vectors a sample "
        "(L (1 + cached_arrays) for a network of L layers; 0: the size without that bound).");

    m.def("build_info", [] {
        py::dict info;
        info["version"] = RESODE_VERSION;
        info["openmp"] = resode::openmp_enabled();
        info["threads"] = resode::default_threads();
        info["simd"] = simd_instruction_sets();
        info["eigen"] = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                        std::to_string(EIGEN_MINOR_VERSION);
#if defined(__clang__)
        info["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
        info["compiler"] = std::string("gcc ") + __VERSION__;
#else
        info["compiler"] = "unknown";
#endif
        info["isa"] = RESODE_ISA;  // the level this module was compiled for
        return info;
    });
    m.attr("__version__") = RESODE_VERSION;
}
