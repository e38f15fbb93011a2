// The portable kernel: score.hpp instantiated in namespace portable, compiled with this unit's
// instruction-set flags only (CMakeLists.txt; see kernel.hpp).
#define FLORESTA_ISA portable
#define FLORESTA_ISA_LEVEL 0
#include "engine/score.hpp"

namespace floresta::detail {

const Kernel& portable_kernel() {
  static const Kernel kernel = portable::make_kernel("portable");
  return kernel;
}

}  // namespace floresta::detail
