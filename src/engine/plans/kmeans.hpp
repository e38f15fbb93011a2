// src/engine/plans/kmeans.hpp — the kmeans plan: labels (nearest centre) and distances for
// k-means models. Float32 batches take the instruction set's own kernel when it has one for
// the call (Isa::kmeans_float_labels: rows or centres in lanes); otherwise a few rows or a
// tiny model take the direct loop, and the rest a GEMM (kmeans_labels_gemm, kmeans.cpp).
//
// Kernel code: included only through score.hpp (see plan.hpp).
#pragma once

#include <cstddef>
#include <type_traits>

#include "engine/kmeans.hpp"
#include "engine/kmeans_kernels.hpp"
#include "engine/output_plan.hpp"
#include "engine/rows.hpp"

namespace floresta::detail::FLORESTA_ISA {

template <class Isa>
struct KMeansPlan {
  template <class In>
  static void score(const KMeans& model, const Rows<In>& X, std::size_t begin, std::size_t end,
                    const OutputPlan& plan, double* out) {
    if (plan.kind == OutputKind::kDistances) kmeans_distances(model, X, begin, end, out);
    else labels(model, X, begin, end, out);
  }

  // Labels of rows [begin, end), in the input's precision.
  template <class In>
  static void labels(const KMeans& model, const Rows<In>& X, std::size_t begin, std::size_t end, double* out) {
    if constexpr (std::is_same_v<In, float>) {
      if (Isa::kmeans_float_labels(model, X, begin, end, out)) return;
    }
    if (end - begin < 8 || model.num_clusters() * model.num_features() < 16) {
      for (std::size_t r = begin; r < end; ++r)
        out[r - begin] = static_cast<double>(nearest_center<In>(model, X.row(r), X.col_stride));
      return;
    }
    kmeans_labels_gemm(model, X, begin, end, out);
  }
};

}  // namespace floresta::detail::FLORESTA_ISA
