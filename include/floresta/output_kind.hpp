// floresta/output_kind.hpp — what a predict call writes per row (Model::score's `kind`).
//
// Its own header because both sides need it: the public Model API names it, and the engine
// (src/engine/) writes each kind, without including the Model API.
#pragma once

namespace floresta {

enum class OutputKind {
  kRaw,    // num_outputs() margins
  kValue,  // num_outputs() transformed values (regression)
  kProba,  // class probabilities: [1 - p, p] for one binary group, else num_outputs()
  kClass,  // one value: the predicted class index (outlier detection: -1 outlier, 1 inlier)
  kDecision,  // outlier detection: one value, the score minus the model's offset
  kDistances,  // clustering: the distance to every centre
};

}  // namespace floresta
