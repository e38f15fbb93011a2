// The avx2 kernel: score.hpp instantiated in namespace avx2, compiled with this unit's
// instruction-set flags only (CMakeLists.txt; see kernel.hpp).
#define FLORESTA_ISA avx2
#define FLORESTA_ISA_LEVEL 1
#include "engine/score.hpp"

namespace floresta::detail {

const Kernel& avx2_kernel() {
  static const Kernel kernel = avx2::make_kernel("avx2");
  return kernel;
}

}  // namespace floresta::detail
