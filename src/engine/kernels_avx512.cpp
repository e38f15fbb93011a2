// The avx512 kernel: score.hpp instantiated in namespace avx512, compiled with this unit's
// instruction-set flags only (CMakeLists.txt; see kernel.hpp).
#define FLORESTA_ISA avx512
#define FLORESTA_ISA_LEVEL 2
#include "engine/score.hpp"

namespace floresta::detail {

const Kernel& avx512_kernel() {
  static const Kernel kernel = avx512::make_kernel("avx512");
  return kernel;
}

}  // namespace floresta::detail
