// floresta/link.hpp — output transforms (link functions) from margins to predictions.
//
// Each transform is evaluated in the precision of the model's accumulator (float32 for
// XGBoost, double for LightGBM and scikit-learn), so probabilities agree with the training
// library to the last bits, not only approximately (the code: src/engine/walk.hpp).
//
// Thread-safety: pure functions.
#pragma once


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

}  // namespace floresta
