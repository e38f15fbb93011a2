// floresta/floresta.hpp — the umbrella header a host includes.
//
//   #include <floresta/floresta.hpp>
//   auto model = floresta::load("model.json");
//   auto proba = model.predict_proba(X.data(), rows, model.num_features());
//
// See model.hpp for the scoring API and its thread-safety, schema.hpp for feature metadata,
// error.hpp for the error type. The Eigen overloads are opt-in (#include <floresta/eigen.hpp>),
// so a host that does not score Eigen matrices does not compile Eigen.
#pragma once

#include "floresta/error.hpp"
#include "floresta/link.hpp"
#include "floresta/matrix.hpp"
#include "floresta/model.hpp"
#include "floresta/schema.hpp"
#include "floresta/spec.hpp"
#include "floresta/version.hpp"
