// floresta/link.hpp — output transforms (link functions) from margins to predictions.
//
// Each transform is evaluated in the precision of the model's accumulator (float32 for
// XGBoost, double for LightGBM and scikit-learn), so probabilities agree with the training
// library to the last bits, not only approximately (the code: src/engine/outputs.hpp).
//
// Thread-safety: a plain enum.
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

}  // namespace floresta
