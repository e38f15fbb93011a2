// Kernel choice (kernel.hpp): what this CPU runs, asked once per process, and the kernel a
// model gets when it is compiled.
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/kernel.hpp"
#include "fail.hpp"
#include "floresta/error.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace floresta::detail {

bool cpu_is_zen5_or_later() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool zen5 = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return false;
    const bool amd = b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;  // "AuthenticAMD"
    if (!amd || !__get_cpuid(1, &a, &b, &c, &d)) return false;
    const unsigned base = (a >> 8) & 0xF;
    const unsigned family = base + (base == 0xF ? (a >> 20) & 0xFF : 0);
    return family >= 0x1A;
  }();
  return zen5;
#else
  return false;
#endif
}

namespace {

#ifdef FLORESTA_KERNEL_SSE4
// What kernels_sse4.cpp is compiled with (CMakeLists.txt: -msse4.2 brings SSSE3 and SSE4.1).
bool cpu_runs_sse4() {
  static const bool runs = __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("sse4.1") &&
                           __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt");
  return runs;
}
#endif
#if defined(FLORESTA_KERNEL_AVX2) || defined(FLORESTA_KERNEL_AVX512)
// What kernels_avx2.cpp is compiled with (CMakeLists.txt).
bool cpu_runs_avx2() {
  static const bool runs =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("popcnt");
  return runs;
}
#endif
#ifdef FLORESTA_KERNEL_AVX512
// What kernels_avx512.cpp is compiled with (CMakeLists.txt).
bool cpu_runs_avx512() {
  static const bool runs = cpu_runs_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                           __builtin_cpu_supports("popcnt");
  return runs;
}
#endif

const Kernel* find(const std::string& name) {
#ifdef FLORESTA_KERNEL_AVX512
  if (name == "avx512") return cpu_runs_avx512() ? &avx512_kernel() : nullptr;
#endif
#ifdef FLORESTA_KERNEL_AVX2
  if (name == "avx2") return cpu_runs_avx2() ? &avx2_kernel() : nullptr;
#endif
#ifdef FLORESTA_KERNEL_SSE4
  if (name == "sse4") return cpu_runs_sse4() ? &sse4_kernel() : nullptr;
#endif
  if (name == "portable") return &portable_kernel();
  return nullptr;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

std::vector<std::string> available_kernels() {
  std::vector<std::string> names;
  for (const char* name : {"avx512", "avx2", "sse4", "portable"})
    if (find(name)) names.emplace_back(name);
  return names;
}

const Kernel& choose_kernel(const std::string& requested, const std::string& source) {
  std::string name = requested;
  const char* from = "LoadOptions::kernel";
  if (name.empty() || name == "auto") {
    const char* env = std::getenv("FLORESTA_KERNEL");
    if (env && *env && std::string(env) != "auto") {
      name = env;
      from = "FLORESTA_KERNEL";
    } else {
      return *find(available_kernels().front());
    }
  }
  if (name != "avx512" && name != "avx2" && name != "sse4" && name != "portable")
    fail(source, ": unknown kernel '", name, "' (", from, "): expected auto, avx512, avx2, sse4 or portable");
  const Kernel* kernel = find(name);
  if (!kernel)
    fail(source, ": kernel '", name, "' (", from, ") is not available: this CPU and build have ",
         joined(available_kernels()));
  return *kernel;
}

}  // namespace floresta::detail
