// src/engine/kmeans.hpp — a compiled k-means model: centres in both precisions and the
// layouts the vector kernels read (kmeans_kernels.hpp scores them).
//
// Thread-safety: immutable after construction.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <cstddef>
#include <limits>
#include <vector>

#include "engine/rows.hpp"

namespace floresta::detail {

struct KMeans {
  template <class T>
  using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  RowMatrix<double> centers64;  // k x d
  RowMatrix<float> centers32;
  Eigen::VectorXd norms64;      // ||c||^2 in each precision
  Eigen::VectorXf norms32;

  // float32 centres transposed (d x k_padded, k padded to a multiple of 8 with +inf norms)
  // for the AVX2 few-rows kernel (kmeans_labels_avx2), which runs over eight centres at a time.
  std::vector<float> transposed32;
  std::vector<float> padded_norms32;
  std::size_t padded_k = 0;

  // For k <= 16 (kmeans_labels_few_avx512): centres padded to a power of two K (1..16),
  // `span` = 16 / K features per 16-lane group, lane l of group g holding centre l / span at
  // feature g * span + l % span (0 past k or d), so a row's `span` values broadcast in one
  // load meet every centre at once.
  std::vector<float> interleaved32;
  std::size_t span = 0;  // 0 when k > 16

  // For the portable rows-in-lanes kernel (PortableLanes in kmeans_kernels.hpp): each float32 centre value
  // and norm repeated in kBroadcastLanes consecutive floats, (centre, feature, lane), so a
  // register of one value is a plain load. SSE2 has no broadcast load, and the shuffle that
  // would replace it competes with the multiplies and adds for the same pipes.
  static constexpr std::size_t kBroadcastLanes = 4;
  std::vector<float> broadcast32;        // k x d x kBroadcastLanes
  std::vector<float> broadcast_norms32;  // k x kBroadcastLanes

  explicit KMeans(RowMatrix<double> centers = {}) : centers64(std::move(centers)) {
    centers32 = centers64.cast<float>();
    norms64 = centers64.rowwise().squaredNorm();
    norms32 = centers32.rowwise().squaredNorm();
    const std::size_t k = num_clusters(), d = num_features();
    padded_k = (k + 7) / 8 * 8;
    transposed32.assign(d * padded_k, 0.0f);
    padded_norms32.assign(padded_k, std::numeric_limits<float>::infinity());
    for (std::size_t j = 0; j < k; ++j) {
      padded_norms32[j] = norms32[static_cast<Eigen::Index>(j)];
      for (std::size_t f = 0; f < d; ++f)
        transposed32[f * padded_k + j] = centers32(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(f));
    }
    broadcast32.resize(k * d * kBroadcastLanes);
    broadcast_norms32.resize(k * kBroadcastLanes);
    for (std::size_t j = 0; j < k; ++j)
      for (std::size_t l = 0; l < kBroadcastLanes; ++l) {
        broadcast_norms32[j * kBroadcastLanes + l] = norms32[static_cast<Eigen::Index>(j)];
        for (std::size_t f = 0; f < d; ++f)
          broadcast32[(j * d + f) * kBroadcastLanes + l] = centers32(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(f));
      }
    if (k >= 1 && k <= 16) {
      std::size_t lanes_per_centre = 16;  // = span
      while (lanes_per_centre > 1 && k > 16 / lanes_per_centre) lanes_per_centre /= 2;
      span = lanes_per_centre;
      const std::size_t groups = (d + span - 1) / span;
      interleaved32.assign(groups * 16, 0.0f);
      for (std::size_t g = 0; g < groups; ++g)
        for (std::size_t l = 0; l < 16; ++l) {
          const std::size_t j = l / span, f = g * span + l % span;
          if (j < k && f < d) interleaved32[g * 16 + l] = centers32(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(f));
        }
    }
  }
  std::size_t num_clusters() const { return static_cast<std::size_t>(centers64.rows()); }
  std::size_t num_features() const { return static_cast<std::size_t>(centers64.cols()); }

  const RowMatrix<float>& centers(float) const { return centers32; }
  const RowMatrix<double>& centers(double) const { return centers64; }
  const Eigen::VectorXf& norms(float) const { return norms32; }
  const Eigen::VectorXd& norms(double) const { return norms64; }
};

constexpr std::size_t kKMeansChunk = 256;

// Labels of rows [begin, end) through Eigen matrix products on chunks of kKMeansChunk rows,
// the argmin fused after each chunk. Defined in kmeans.cpp, which is compiled without
// instruction-set flags: Eigen's kernels are shared templates, and instantiating them in a
// kernel unit could hand a copy built for AVX-512 to every caller.
template <class In>
void kmeans_labels_gemm(const KMeans& model, const Rows<In>& X, std::size_t begin, std::size_t end, double* out);
extern template void kmeans_labels_gemm<float>(const KMeans&, const Rows<float>&, std::size_t, std::size_t, double*);
extern template void kmeans_labels_gemm<double>(const KMeans&, const Rows<double>&, std::size_t, std::size_t, double*);

}  // namespace floresta::detail
