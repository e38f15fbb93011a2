// src/engine/outputs.hpp — margins to what a call asked for (OutputPlan): averaging, the
// link, probabilities, classes and decisions, one row at a time. Every forest plan ends its
// block here.
//
// Kernel code: included only through score.hpp inside a kernel translation unit, in its
// FLORESTA_ISA namespace (see kernel.hpp).
#pragma once

#include <cmath>
#include <cstddef>

#include "engine/output_plan.hpp"

#ifndef FLORESTA_ISA
#error "engine/outputs.hpp is kernel code: include it from a kernels_*.cpp unit through score.hpp"
#endif

namespace floresta::detail::FLORESTA_ISA {

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

template <class Accum>
inline void transform(const OutputPlan& plan, Accum* v, std::size_t groups) {
  if (plan.average_divisor > 0)
    for (std::size_t g = 0; g < groups; ++g) v[g] /= static_cast<Accum>(plan.average_divisor);
  apply_link(plan.link, v, groups, static_cast<Accum>(plan.link_scale));
}

template <class Accum>
inline void write_outputs(const OutputPlan& plan, Accum* v, std::size_t groups, double* o) {
  switch (plan.kind) {
    case OutputKind::kRaw:
      break;
    case OutputKind::kValue:
      transform(plan, v, groups);
      break;
    case OutputKind::kProba:
      transform(plan, v, groups);
      if (groups == 1) {
        o[0] = static_cast<double>(Accum(1) - v[0]);
        o[1] = static_cast<double>(v[0]);
        return;
      }
      break;
    case OutputKind::kDecision:
      transform(plan, v, groups);
      o[0] = static_cast<double>(v[0]) - plan.decision_offset;
      return;
    case OutputKind::kDistances:  // refused for forests by output_plan_for (model.cpp)
      break;
    case OutputKind::kClass: {
      if (plan.outlier) {
        transform(plan, v, groups);
        o[0] = static_cast<double>(v[0]) - plan.decision_offset < 0 ? -1.0 : 1.0;
        return;
      }
      if (!plan.class_from_margin) transform(plan, v, groups);
      if (groups == 1) {
        o[0] = v[0] > (plan.class_from_margin ? Accum(0) : Accum(0.5)) ? 1.0 : 0.0;
      } else {
        std::size_t best = 0;
        for (std::size_t g = 1; g < groups; ++g)
          if (v[g] > v[best]) best = g;
        o[0] = static_cast<double>(best);
      }
      return;
    }
  }
  for (std::size_t g = 0; g < groups; ++g) o[g] = static_cast<double>(v[g]);
}

}  // namespace floresta::detail::FLORESTA_ISA
