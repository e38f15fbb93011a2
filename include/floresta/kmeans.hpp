// floresta/kmeans.hpp — compiled k-means: nearest-centre assignment and distances.
//
// Assignment follows scikit-learn exactly: label = argmin_j (||c_j||^2 - 2 x.c_j), computed
// in the input's precision (float32 rows against float32 centres, float64 against float64),
// the lowest index winning ties. Batches go through Eigen matrix products on chunks of 256
// rows with the argmin fused after each chunk; a single row takes a direct loop.
// Distances (transform) and the inertia (score) are computed in double as sum (x - c)^2.
//
// Thread-safety: immutable after construction; scoring is const.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "floresta/matrix.hpp"

namespace floresta::detail {

struct KMeans {
  template <class T>
  using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  RowMatrix<double> centers64;  // k x d
  RowMatrix<float> centers32;
  Eigen::VectorXd norms64;      // ||c||^2 in each precision
  Eigen::VectorXf norms32;

  explicit KMeans(RowMatrix<double> centers = {}) : centers64(std::move(centers)) {
    centers32 = centers64.cast<float>();
    norms64 = centers64.rowwise().squaredNorm();
    norms32 = centers32.rowwise().squaredNorm();
  }
  std::size_t num_clusters() const { return static_cast<std::size_t>(centers64.rows()); }
  std::size_t num_features() const { return static_cast<std::size_t>(centers64.cols()); }

  const RowMatrix<float>& centers(float) const { return centers32; }
  const RowMatrix<double>& centers(double) const { return centers64; }
  const Eigen::VectorXf& norms(float) const { return norms32; }
  const Eigen::VectorXd& norms(double) const { return norms64; }
};

constexpr std::size_t kKMeansChunk = 256;

// Lowest-index argmin of ||c_j||^2 - 2 x.c_j for one row, directly.
template <class T, class In>
std::size_t nearest_center(const KMeans& model, const In* row, std::ptrdiff_t col_stride) {
  const auto& C = model.centers(T{});
  const auto& norms = model.norms(T{});
  const std::size_t k = model.num_clusters(), d = model.num_features();
  std::size_t best = 0;
  T best_value = std::numeric_limits<T>::infinity();
  for (std::size_t j = 0; j < k; ++j) {
    T dot = 0;
    for (std::size_t f = 0; f < d; ++f) dot += static_cast<T>(row[static_cast<std::ptrdiff_t>(f) * col_stride]) * C(j, f);
    const T value = norms[j] - T(2) * dot;
    if (value < best_value) {
      best_value = value;
      best = j;
    }
  }
  return best;
}

// Labels of rows [begin, end): GEMM per chunk, then a fused argmin.
template <class In>
void kmeans_labels(const KMeans& model, const MatrixView<In>& X, std::size_t begin, std::size_t end, double* out) {
  using T = In;  // the input's precision
  const std::size_t k = model.num_clusters(), d = model.num_features();
  if (end - begin < 8 || k * d < 16) {
    for (std::size_t r = begin; r < end; ++r)
      out[r - begin] = static_cast<double>(nearest_center<T>(model, X.row(r), X.col_stride));
    return;
  }
  const auto& C = model.centers(T{});
  const auto& norms = model.norms(T{});
  using Strided = Eigen::Map<const KMeans::RowMatrix<T>, Eigen::Unaligned, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
  KMeans::RowMatrix<T> distances(static_cast<Eigen::Index>(std::min(kKMeansChunk, end - begin)), static_cast<Eigen::Index>(k));
  for (std::size_t b = begin; b < end; b += kKMeansChunk) {
    const std::size_t n = std::min(kKMeansChunk, end - b);
    const Strided chunk(X.row(b), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d),
                        Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(X.row_stride, X.col_stride));
    auto block = distances.topRows(static_cast<Eigen::Index>(n));
    block.noalias() = chunk * C.transpose();
    for (std::size_t r = 0; r < n; ++r) {
      std::size_t best = 0;
      T best_value = std::numeric_limits<T>::infinity();
      for (std::size_t j = 0; j < k; ++j) {
        const T value = norms[static_cast<Eigen::Index>(j)] - T(2) * block(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(j));
        if (value < best_value) {
          best_value = value;
          best = j;
        }
      }
      out[b - begin + r] = static_cast<double>(best);
    }
  }
}

// Euclidean distance of each row to each centre (k values per row), in double.
template <class In>
void kmeans_distances(const KMeans& model, const MatrixView<In>& X, std::size_t begin, std::size_t end, double* out) {
  const std::size_t k = model.num_clusters(), d = model.num_features();
  for (std::size_t r = begin; r < end; ++r) {
    const In* row = X.row(r);
    for (std::size_t j = 0; j < k; ++j) {
      double sum = 0;
      for (std::size_t f = 0; f < d; ++f) {
        const double diff = static_cast<double>(row[static_cast<std::ptrdiff_t>(f) * X.col_stride]) -
                            static_cast<double>(model.centers(In{})(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(f)));
        sum += diff * diff;
      }
      out[(r - begin) * k + j] = std::sqrt(sum);
    }
  }
}

}  // namespace floresta::detail
