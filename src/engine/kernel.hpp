// src/engine/kernel.hpp — a kernel: one instruction set's scoring entry points, as a table
// of function pointers that a model holds from compile() on.
//
// Each instruction set's kernel is compiled in its own translation unit with that unit's
// flags only: kernels_portable.cpp (none), kernels_sse4.cpp (-msse4.2), kernels_avx2.cpp (-mavx2 -mfma),
// kernels_avx512.cpp (-mavx512f -mavx512bw -mavx512vl -mavx512dq ...). Each unit
// instantiates every scoring plan (plan.hpp) for the closed set of decision rules x input
// types, and k-means, in a namespace of its own (FLORESTA_ISA), so no template of one unit
// can stand in for another's at link time. Shared inline code the units call (the rules, Node) is
// always-inlined; std and Eigen templates that could be emitted out of line stay out of the
// vector units (Eigen's GEMM is in kmeans.cpp). choose_kernel() asks the CPU once, when a
// model is compiled; nothing in a scoring call does.
//
// Thread-safety: kernels are immutable tables of functions; choose_kernel is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/forest.hpp"
#include "engine/kmeans.hpp"
#include "engine/output_plan.hpp"
#include "engine/plan.hpp"
#include "engine/rows.hpp"

namespace floresta::detail {

// Scores rows [begin, end) of X into out (output_width(plan.kind, ...) values a row).
template <class Estimator, class In>
using ScoreFunction = void (*)(const Estimator&, const Rows<In>&, std::size_t begin, std::size_t end,
                               const OutputPlan& plan, double* out);

template <class Estimator>
struct ScoreEntries {
  ScoreFunction<Estimator, float> f32 = nullptr;
  ScoreFunction<Estimator, double> f64 = nullptr;
  ScoreFunction<Estimator, float> of(const float*) const { return f32; }
  ScoreFunction<Estimator, double> of(const double*) const { return f64; }
};

// An estimator type's entry points, one per plan (null where the plan cannot score it).
template <class Estimator>
struct PlanEntries {
  ScoreEntries<Estimator> plans[kPlanCount];
  ScoreEntries<Estimator>& operator[](Plan plan) { return plans[static_cast<std::size_t>(plan)]; }
  const ScoreEntries<Estimator>& operator[](Plan plan) const { return plans[static_cast<std::size_t>(plan)]; }
};

struct Kernel {
  const char* name = "";
  uint32_t bitvector_word_bits = 32;  // the bitvector plan's word width (Isa::BitvectorLanes)
  BitvectorRows bitvector_rows = BitvectorRows::kNone;  // its single-row layout (Isa::kBitvectorRows)
  PlanEntries<Forest<XGBoostRule>> xgboost;
  PlanEntries<Forest<LightGBMRule>> lightgbm;
  PlanEntries<Forest<SkLearnHistRule>> sklearn_hist;
  PlanEntries<Forest<SkLearnTreeRule>> sklearn_tree;
  PlanEntries<KMeans> kmeans;

  const PlanEntries<Forest<XGBoostRule>>& entries(const Forest<XGBoostRule>&) const { return xgboost; }
  const PlanEntries<Forest<LightGBMRule>>& entries(const Forest<LightGBMRule>&) const { return lightgbm; }
  const PlanEntries<Forest<SkLearnHistRule>>& entries(const Forest<SkLearnHistRule>&) const { return sklearn_hist; }
  const PlanEntries<Forest<SkLearnTreeRule>>& entries(const Forest<SkLearnTreeRule>&) const { return sklearn_tree; }
  const PlanEntries<KMeans>& entries(const KMeans&) const { return kmeans; }
};

// The kernels of the units this build compiled (kernels_*.cpp); each is only called once
// the CPU is known to run it.
const Kernel& portable_kernel();
#ifdef FLORESTA_KERNEL_SSE4
const Kernel& sse4_kernel();
#endif
#ifdef FLORESTA_KERNEL_AVX2
const Kernel& avx2_kernel();
#endif
#ifdef FLORESTA_KERNEL_AVX512
const Kernel& avx512_kernel();
#endif

// The kernels this CPU runs and this build has, fastest first ("avx512", "avx2", "sse4",
// "portable").
std::vector<std::string> available_kernels();
// The kernel a model gets: `requested` is "auto" (or empty), "avx512", "avx2", "sse4" or "portable";
// "auto" takes FLORESTA_KERNEL from the environment when it is set, else the fastest.
// A kernel this CPU or build lacks is an Error naming the ones available; `source` names
// the model in it.
const Kernel& choose_kernel(const std::string& requested, const std::string& source);

}  // namespace floresta::detail
