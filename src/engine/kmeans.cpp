// kmeans_labels_gemm (kmeans.hpp): compiled without instruction-set flags, see there.
#include <algorithm>
#include <limits>

#include "engine/kmeans.hpp"

namespace floresta::detail {

template <class In>
void kmeans_labels_gemm(const KMeans& model, const Rows<In>& X, std::size_t begin, std::size_t end, double* out) {
  using T = In;  // the input's precision
  const std::size_t k = model.num_clusters(), d = model.num_features();
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

template void kmeans_labels_gemm<float>(const KMeans&, const Rows<float>&, std::size_t, std::size_t, double*);
template void kmeans_labels_gemm<double>(const KMeans&, const Rows<double>&, std::size_t, std::size_t, double*);

}  // namespace floresta::detail
