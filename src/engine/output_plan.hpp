// src/engine/output_plan.hpp — what a scoring call writes: the output kind and how margins
// become it (link, averaging, offsets), fixed per call by Model and read by every plan.
#pragma once

#include <cstddef>

#include "engine/quantized.hpp"  // FLORESTA_ALWAYS_INLINE
#include "floresta/link.hpp"
#include "floresta/output_kind.hpp"

namespace floresta::detail {

struct OutputPlan {
  OutputKind kind = OutputKind::kRaw;
  Link link = Link::kIdentity;
  bool class_from_margin = false;  // class = argmax (or sign) of margins, not of probabilities
  bool outlier = false;            // an outlier detector: classes are -1 / 1
  double average_divisor = 0;
  double link_scale = 1;
  double decision_offset = 0;
};

// Values a row gets for `kind` from a model of `groups` output groups.
FLORESTA_ALWAYS_INLINE std::size_t output_width(OutputKind kind, std::size_t groups) {
  if (kind == OutputKind::kClass || kind == OutputKind::kDecision) return 1;
  if (kind == OutputKind::kProba && groups == 1) return 2;
  return groups;
}

}  // namespace floresta::detail
