// floresta/link.hpp — output transforms (link functions) from margins to predictions.
//
// Each transform is evaluated in the precision of the model's accumulator (float32 for
// XGBoost, double for LightGBM and scikit-learn), so probabilities agree with the training
// library to the last bits, not only approximately.
//
// Thread-safety: pure functions.
#pragma once

#include <cmath>
#include <cstddef>

namespace floresta {

enum class Link {
  kIdentity,       // regression, raw scores
  kSigmoid,        // binary:logistic, reg:logistic
  kSoftmax,        // multi:softprob, multi:softmax (probabilities)
  kExp,            // count:poisson, reg:gamma, reg:tweedie
  kHinge,          // binary:hinge: 1 if margin > 0 else 0
  kSignedSquare,   // LightGBM regression with sqrt: sign(x) * x^2
  kOneVsRestSigmoid,  // LightGBM multiclassova: a sigmoid per class
  kIsolation,      // IsolationForest score_samples: -2^(-x / scale)
};

inline const char* link_name(Link link) {
  switch (link) {
    case Link::kIdentity: return "identity";
    case Link::kSigmoid: return "sigmoid";
    case Link::kSoftmax: return "softmax";
    case Link::kExp: return "exp";
    case Link::kHinge: return "hinge";
    case Link::kSignedSquare: return "signed_square";
    case Link::kOneVsRestSigmoid: return "one_vs_rest_sigmoid";
    case Link::kIsolation: return "isolation";
  }
  return "unknown";
}

namespace detail {

// Transforms one row of `n` margins in place. `scale` is the sigmoid slope (1 for XGBoost),
// or the isolation forest's normaliser (n_estimators * c(max_samples)).
template <class T>
inline void apply_link(Link link, T* v, std::size_t n, T scale = T(1)) {
  switch (link) {
    case Link::kIdentity:
      return;
    case Link::kSigmoid:
    case Link::kOneVsRestSigmoid:
      if (scale == T(1)) {
        for (std::size_t i = 0; i < n; ++i) v[i] = T(1) / (T(1) + std::exp(-v[i]));
      } else {
        for (std::size_t i = 0; i < n; ++i) v[i] = T(1) / (T(1) + std::exp(-scale * v[i]));
      }
      return;
    case Link::kSoftmax: {
      T top = v[0];
      for (std::size_t i = 1; i < n; ++i) top = v[i] > top ? v[i] : top;
      T sum = 0;
      for (std::size_t i = 0; i < n; ++i) {
        v[i] = std::exp(v[i] - top);
        sum += v[i];
      }
      for (std::size_t i = 0; i < n; ++i) v[i] /= sum;
      return;
    }
    case Link::kExp:
      for (std::size_t i = 0; i < n; ++i) v[i] = std::exp(v[i]);
      return;
    case Link::kHinge:
      for (std::size_t i = 0; i < n; ++i) v[i] = v[i] > T(0) ? T(1) : T(0);
      return;
    case Link::kSignedSquare:
      for (std::size_t i = 0; i < n; ++i) v[i] = (v[i] < 0 ? -v[i] : v[i]) * v[i];
      return;
    case Link::kIsolation:
      for (std::size_t i = 0; i < n; ++i) v[i] = -std::pow(T(2), -(scale != T(0) ? v[i] / scale : T(1)));
      return;
  }
}

}  // namespace detail
}  // namespace floresta
