// Shared vocabulary of the kernels: array views, the names of forms,
// activations and heads, and the description of one network.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace resode {

using Index = Eigen::Index;

// A block of n samples is a d x n matrix stored row by row ("structure of
// arrays": row i is state component i of the block's samples, contiguous), so
// that elementwise passes and small d x d products run as SIMD across samples.
// NumPy's (N, d) C-order arrays hold samples one after another ("array of
// structures"): seen from Eigen, a d x n column-major matrix (SampleMap). A
// sweep gathers its inputs into blocks and scatters its outputs back once per
// block, not per layer.
template <class T> using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T> using MatMap = Eigen::Map<Mat<T>>;
template <class T> using CMatMap = Eigen::Map<const Mat<T>>;
template <class T> using SampleMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>>;
template <class T> using CSampleMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>>;
// Weights are (d, d) / (m, d) C-order in NumPy, hence row-major here.
template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T> using RowMap = Eigen::Map<RowMat<T>>;
template <class T> using CRowMap = Eigen::Map<const RowMat<T>>;
template <class T> using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T> using VecMap = Eigen::Map<Vec<T>>;
template <class T> using CVecMap = Eigen::Map<const Vec<T>>;
template <class T> using CRowVecMap = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;

enum class Form { Inner, Outer, Symmetric, Antisymmetric, ResNetD, Hamiltonian, HamiltonianHR };
// How a layer's step integrates its (piecewise constant in time) vector field.
enum class Scheme { Euler, Heun, RK4, SymplecticEuler, Verlet };
enum class Activation { Tanh, Relu, Sigmoid, Softplus, LeakyRelu, Identity };
// Cotangent is not a loss: its "cost" sum_i G_i . x_i has the costate G, so the
// gradient sweep of that cost is the vector-Jacobian product of the network
// (the backward pass of the PyTorch and JAX layers). Not a name users pick.
enum class Head { State, Linear, Softmax, Logistic, Cotangent };
// heads with parameters W, mu of their own
inline bool has_head_params(Head h) { return h != Head::State && h != Head::Cotangent; }

inline Form parse_form(const std::string& name) {
    if (name == "inner") return Form::Inner;
    if (name == "outer") return Form::Outer;
    if (name == "symmetric") return Form::Symmetric;
    if (name == "antisymmetric") return Form::Antisymmetric;
    if (name == "resnet_d") return Form::ResNetD;
    if (name == "hamiltonian") return Form::Hamiltonian;
    if (name == "hamiltonian_hr") return Form::HamiltonianHR;
    throw std::invalid_argument("form must be one of 'inner', 'outer', 'symmetric', 'antisymmetric', "
                                "'resnet_d', 'hamiltonian', 'hamiltonian_hr'; got '" +
                                name + "'");
}

inline Scheme parse_scheme(const std::string& name) {
    if (name == "euler") return Scheme::Euler;
    if (name == "heun") return Scheme::Heun;
    if (name == "rk4") return Scheme::RK4;
    if (name == "symplectic_euler") return Scheme::SymplecticEuler;
    if (name == "verlet") return Scheme::Verlet;
    throw std::invalid_argument("scheme must be one of 'euler', 'heun', 'rk4', 'symplectic_euler', 'verlet'; got '" +
                                name + "'");
}

inline bool is_hamiltonian(Form f) { return f == Form::Hamiltonian || f == Form::HamiltonianHR; }
inline bool is_partitioned(Scheme s) { return s == Scheme::SymplecticEuler || s == Scheme::Verlet; }

inline Activation parse_activation(const std::string& name) {
    if (name == "tanh") return Activation::Tanh;
    if (name == "relu") return Activation::Relu;
    if (name == "sigmoid") return Activation::Sigmoid;
    if (name == "softplus") return Activation::Softplus;
    if (name == "leaky_relu") return Activation::LeakyRelu;
    if (name == "identity") return Activation::Identity;
    throw std::invalid_argument("activation must be one of 'tanh', 'relu', 'sigmoid', "
                                "'softplus', 'leaky_relu', 'identity'; got '" +
                                name + "'");
}

inline Head parse_head(const std::string& name) {
    if (name == "state") return Head::State;
    if (name == "linear") return Head::Linear;
    if (name == "softmax") return Head::Softmax;
    if (name == "logistic") return Head::Logistic;
    throw std::invalid_argument("head must be one of 'state', 'linear', 'softmax', "
                                "'logistic'; got '" +
                                name + "'");
}

// The residual network x_{k+1} = P(Phi_k(x_k)), k = 0..L-1 (0-based): Phi_k one
// step of `scheme` for the vector field f_k, P the identity or relu (project).
// Layers share parameters in groups of `share` consecutive steps: layer k uses
// group k / share of V and b (share = 1: every layer its own).
template <class T>
struct Network {
    Index d = 0;       // state dimension
    Index L = 0;       // number of layers
    Index groups = 0;  // parameter groups: ceil(L / share)
    Index share = 1;   // layers per group
    T h = T(1);        // step T / L
    Form form = Form::Inner;
    Scheme scheme = Scheme::Euler;
    Activation activation = Activation::Tanh;
    bool project = false;  // post-activation relu after each step
    T gamma = T(0);        // antisymmetric damping
    const T* V = nullptr;  // (groups, ...) C order; the form fixes the per-group shape
    const T* b = nullptr;  // (groups, ...)

    Index group(Index k) const { return k / share; }
    // layers in group g (the last group may be shorter)
    Index group_layers(Index g) const { return std::min(share, L - g * share); }
};

// The cost J of docs/mathematics.md, minus the parts of the network.
template <class T>
struct Cost {
    Head head = Head::State;
    Index m = 0;                           // rows of W (d for the state head)
    const T* W = nullptr;                  // (m, d), null for the state head
    const T* mu = nullptr;                 // (m,)
    const T* Y = nullptr;                  // (N, m) targets: state / linear heads
    const std::int64_t* labels = nullptr;  // (N,) labels: softmax / logistic
    const T* sample_weight = nullptr;      // (N,) or null for all ones
    // Cotangent on a trajectory: G_k for every state x_k, (L+1, N, d); Y is then
    // its last slab (the costate of x_L), the others are added on the way back
    const T* state_cotangents = nullptr;
    double w1 = 0, w2 = 0, w_head = 0;
};

// Where loss_and_grad writes; dW, dmu, dX may be null when not wanted.
template <class T>
struct Gradients {
    T* dV = nullptr;
    T* db = nullptr;
    T* dW = nullptr;
    T* dmu = nullptr;
    T* dX = nullptr;
    T* P = nullptr;  // the costates p_1..p_{L+1}, (L+1, N, d)
};

// Raised when a sweep produces inf / NaN. layer is the 0-based index of the
// layer whose step first produced a non-finite state (L for the head, i.e. the
// loss; -1 when only the backward sweep overflowed); samples counts affected ones.
struct NonFinite : std::runtime_error {
    Index layer;
    Index samples;
    std::string stage;
    NonFinite(Index layer_, Index samples_, std::string stage_, const std::string& what)
        : std::runtime_error(what), layer(layer_), samples(samples_), stage(std::move(stage_)) {}
};

// Raised when the caller's interruption check said stop (Ctrl-C).
struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("interrupted") {}
};

}  // namespace resode
