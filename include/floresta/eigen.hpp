// floresta/eigen.hpp — scoring Eigen matrices in place (any storage order, any strides).
// Opt-in: the umbrella floresta.hpp does not include it, so only hosts that include it
// compile Eigen.
//
//   #include <floresta/eigen.hpp>
//   Eigen::MatrixXf X = ...;                       // rows x num_features
//   Eigen::MatrixXd p = floresta::predict_proba(model, X);
//
// Results come back as row-major Eigen matrices of double. Thread-safety: as Model.
#pragma once

#include <Eigen/Core>

#include "floresta/model.hpp"

namespace floresta {

using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class Derived>
MatrixView<typename Derived::Scalar> view_of(const Eigen::DenseBase<Derived>& X) {
  static_assert(bool(Derived::Flags & Eigen::DirectAccessBit), "floresta needs an Eigen expression with direct access; call .eval() first");
  return {X.derived().data(), static_cast<std::size_t>(X.rows()), static_cast<std::size_t>(X.cols()),
          static_cast<std::ptrdiff_t>(X.rowStride()), static_cast<std::ptrdiff_t>(X.colStride())};
}

template <class Derived>
RowMatrixXd score(const Model& model, OutputKind kind, const Eigen::DenseBase<Derived>& X,
                  const PredictOptions& options = {}) {
  RowMatrixXd out(X.rows(), static_cast<Eigen::Index>(model.output_width(kind)));
  model.score(kind, view_of(X), out.data(), options);
  return out;
}

template <class Derived>
RowMatrixXd predict_raw(const Model& model, const Eigen::DenseBase<Derived>& X, const PredictOptions& o = {}) {
  return score(model, OutputKind::kRaw, X, o);
}
template <class Derived>
RowMatrixXd predict_proba(const Model& model, const Eigen::DenseBase<Derived>& X, const PredictOptions& o = {}) {
  return score(model, OutputKind::kProba, X, o);
}
template <class Derived>
RowMatrixXd predict(const Model& model, const Eigen::DenseBase<Derived>& X, const PredictOptions& o = {}) {
  return score(model, model.predict_kind(), X, o);
}

}  // namespace floresta
