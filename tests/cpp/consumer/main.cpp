// A host that only knows the installed floresta package.
#include <floresta/floresta.hpp>

#include <iostream>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  try {
    const floresta::Model model = floresta::load(argv[1]);
    std::vector<float> row(model.num_features(), 0.5f);
    const auto p = model.predict_proba(row.data(), 1, row.size());
    std::cout << "features=" << model.num_features() << " p1=" << p.at(1) << " kernel=" << model.kernel()
              << " version=" << floresta::kVersion << "\n";
    return p.at(1) >= 0.0 && p.at(1) <= 1.0 ? 0 : 1;
  } catch (const floresta::Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
