// floresta._core — the pybind11 module behind `import floresta`.
//
// Thin on purpose: numpy arrays in (float32/float64, any strides, no copy), numpy arrays
// out, the GIL released while scoring. floresta::Error becomes ValueError here, and only here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "floresta/floresta.hpp"
#include "fail.hpp"     // detail::clipped: user text in a message, as the library clips it
#include "threads.hpp"  // detail::hardware_threads

namespace py = pybind11;

namespace {

// Batches this small are scored without releasing the GIL.
constexpr std::size_t kReleaseGilRows = 32;

const bool kLittleEndian = [] {
  const uint16_t one = 1;
  return *reinterpret_cast<const uint8_t*>(&one) == 1;
}();

// A thread count as the core takes it: at most one per hardware thread. More never scores
// faster, and a huge count (n_threads=2**31-1 on a 30M-row batch) made parallel_for start
// ~100k threads; the first one that failed to start aborted the interpreter (std::terminate).
int thread_count(int requested) {
  return std::min(requested, static_cast<int>(floresta::detail::hardware_threads()));
}

floresta::PredictOptions predict_options(int n_threads) {
  floresta::PredictOptions options;
  options.n_threads = thread_count(n_threads);
  return options;
}

// A new C-ordered float64 array of rows x width (rows when `flat`), straight from numpy's C
// API: array_t's constructor builds shape and stride vectors on the heap, a single row's cost.
py::array_t<double> new_doubles(std::size_t rows, std::size_t width, bool flat) {
  const auto& api = py::detail::npy_api::get();
  Py_intptr_t shape[2] = {static_cast<Py_intptr_t>(rows), static_cast<Py_intptr_t>(width)};
  constexpr int kFloat64 = py::detail::npy_api::NPY_DOUBLE_;
  PyObject* array = api.PyArray_NewFromDescr_(api.PyArray_Type_, api.PyArray_DescrFromType_(kFloat64), flat ? 1 : 2, shape,
                                              nullptr, nullptr, 0, nullptr);
  if (array == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::array_t<double>>(array);
}

template <class T>
py::array_t<double> score_view(const floresta::Model& model, floresta::OutputKind kind, const floresta::MatrixView<T>& view,
                               int n_threads, bool flat) {
  const std::size_t rows = view.rows;
  const std::size_t width = model.output_width(kind);
  py::array_t<double> out = new_doubles(rows, width, flat && width == 1);
  double* destination = out.mutable_data();
  const floresta::PredictOptions options = predict_options(n_threads);
  if (rows < kReleaseGilRows) {  // releasing and re-taking the GIL costs more than a few rows
    model.score(kind, view, destination, options);
  } else {
    py::gil_scoped_release release;
    model.score(kind, view, destination, options);
  }
  return out;
}

template <class T>
floresta::MatrixView<T> view_of(const py::array& array) {
  const auto item = static_cast<py::ssize_t>(sizeof(T));
  if (array.strides(0) % item != 0 || array.strides(1) % item != 0)
    throw floresta::Error("X has strides that are not a multiple of its item size; pass np.ascontiguousarray(X)");
  return {static_cast<const T*>(array.data()), static_cast<std::size_t>(array.shape(0)),
          static_cast<std::size_t>(array.shape(1)), array.strides(0) / item, array.strides(1) / item};
}

// Calls f(MatrixView<float>) or f(MatrixView<double>) for a 2-D native float array.
template <class F>
auto with_view(const py::array& X, F&& f) {
  if (X.ndim() != 2) throw floresta::Error("X must be 2-dimensional (rows x features), got " + std::to_string(X.ndim()) + " dimensions");
  const py::dtype dtype = X.dtype();
  const char order = dtype.byteorder();
  const bool native = order == '=' || order == '|' || order == (kLittleEndian ? '<' : '>');
  if (dtype.kind() == 'f' && native && dtype.itemsize() == 4) return f(view_of<float>(X));
  if (dtype.kind() == 'f' && native && dtype.itemsize() == 8) return f(view_of<double>(X));
  throw floresta::Error("X must hold float32 or float64 numbers, got dtype " + std::string(py::str(X.dtype())));
}

// With `flat`, a kind of one value a row comes as a 1-D array.
py::array_t<double> score_as(const floresta::Model& model, floresta::OutputKind kind, const py::array& X, int n_threads,
                             bool flat) {
  return with_view(X, [&](const auto& view) { return score_view(model, kind, view, n_threads, flat); });
}

py::array_t<double> score(const floresta::Model& model, floresta::OutputKind kind, const py::array& X, int n_threads) {
  return score_as(model, kind, X, n_threads, false);
}

// A scorer: a builtin function f(X, n_threads) bound to one model and output kind, what
// Model.predict and predict_proba call on every row. pybind11's dispatch (argument vectors,
// the enum's caster, overload resolution) costs a single row about as much as scoring a
// small forest; a METH_FASTCALL function over a capsule does not. It scores what most calls
// pass, a 2-D numpy array (exactly ndarray) of native float32/float64, and answers None to
// anything else: the Python layer converts that (as_matrix, with the model's schema) and
// calls again.
bool is_float_matrix(PyObject* X) {
  const auto& api = py::detail::npy_api::get();
  if (Py_TYPE(X) != api.PyArray_Type_) return false;
  const auto* array = py::detail::array_proxy(X);
  if (array->nd != 2) return false;
  const auto* dtype = py::detail::array_descriptor_proxy(array->descr);
  const char order = dtype->byteorder;
  const bool native = order == '=' || order == '|' || order == (kLittleEndian ? '<' : '>');
  return dtype->kind == 'f' && native && (dtype->type_num == api.NPY_FLOAT_ || dtype->type_num == api.NPY_DOUBLE_);
}

struct Scorer {
  floresta::Model model;  // a handle: keeps the compiled model alive with the function
  floresta::OutputKind kind;
  bool flat;
};

constexpr const char* kScorerCapsule = "floresta._core.Scorer";

PyObject* call_scorer(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  try {
    if (nargs != 2) {
      PyErr_Format(PyExc_TypeError, "a scorer takes two arguments (X, n_threads), got %zd", nargs);
      return nullptr;
    }
    const auto* scorer = static_cast<const Scorer*>(PyCapsule_GetPointer(self, kScorerCapsule));
    if (scorer == nullptr) return nullptr;
    if (!is_float_matrix(args[0])) Py_RETURN_NONE;  // the caller converts it (as_matrix) and calls again
    const long n_threads = PyLong_AsLong(args[1]);
    if (n_threads == -1 && PyErr_Occurred()) return nullptr;
    if (n_threads < 0 || n_threads > INT32_MAX) throw floresta::Error("n_threads must be between 0 and 2**31 - 1");
    const auto X = py::reinterpret_borrow<py::array>(args[0]);
    return score_as(scorer->model, scorer->kind, X, static_cast<int>(n_threads), scorer->flat).release().ptr();
  } catch (...) {
    py::detail::try_translate_exceptions();  // floresta::Error as ValueError, as everywhere
    return nullptr;
  }
}

py::object make_scorer(const floresta::Model& model, floresta::OutputKind kind, bool flat) {
  static PyMethodDef definition = {"scorer", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(call_scorer)),
                                   METH_FASTCALL, "f(X, n_threads): the model's scores of one kind for a 2-D float array"};
  const py::capsule owner(new Scorer{model, kind, flat}, kScorerCapsule,
                          [](PyObject* capsule) { delete static_cast<Scorer*>(PyCapsule_GetPointer(capsule, kScorerCapsule)); });
  PyObject* function = PyCFunction_New(&definition, owner.ptr());
  if (function == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(function);
}

// Per row, every class most likely first (ties: lower index first, as Model::rank): their
// indices (int64) and probabilities, two arrays of rows x classes.
py::tuple predict_ranked(const floresta::Model& model, const py::array& X, int n_threads) {
  const py::array_t<double> proba = score(model, floresta::OutputKind::kProba, X, n_threads);
  const auto rows = static_cast<std::size_t>(proba.shape(0));
  const auto classes = static_cast<std::size_t>(proba.shape(1));
  py::array_t<int64_t> indices({proba.shape(0), proba.shape(1)});
  py::array_t<double> probabilities({proba.shape(0), proba.shape(1)});
  int64_t* index_out = indices.mutable_data();
  double* probability_out = probabilities.mutable_data();
  for (std::size_t r = 0; r < rows; ++r) {
    const auto ranked = model.rank(proba.data() + r * classes);
    for (std::size_t i = 0; i < classes; ++i) {
      index_out[r * classes + i] = static_cast<int64_t>(ranked[i].index);
      probability_out[r * classes + i] = ranked[i].probability;
    }
  }
  return py::make_tuple(indices, probabilities);
}

floresta::RecordOptions record_options(floresta::UnknownCategory unknown_category, floresta::ExtraFields extra_fields) {
  floresta::RecordOptions options;
  options.unknown_category = unknown_category;
  options.extra_fields = extra_fields;
  return options;
}

// A Python str as UTF-8. A str that has no UTF-8 form (a lone surrogate such as "\ud800")
// used to escape as pybind11's RuntimeError "Unable to cast" or a bare UnicodeEncodeError.
std::string utf8_of(const py::handle& text, const std::string& what) {
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
  if (data == nullptr) {
    PyErr_Clear();
    throw floresta::Error(what + " is a string that is not valid Unicode (it holds a lone surrogate), so it has no UTF-8 form");
  }
  return std::string(data, static_cast<std::size_t>(size));
}

// pandas' missing-value marker, pd.NA: what nullable columns hold for a gap (object columns,
// rows taken with .iloc, itertuples) — a missing value, as in the DataFrame itself.
bool is_pandas_na(const py::handle& object) {
  const py::handle type = py::type::of(object);
  return std::string(py::str(type.attr("__name__"))) == "NAType" &&
         std::string(py::str(type.attr("__module__"))).rfind("pandas", 0) == 0;
}

std::string type_name_of(const py::handle& object) { return py::str(py::type::of(object).attr("__name__")); }

// A number through its __float__. PyFloat_AsDouble, not cast<double>: an int beyond float64
// (10**400) or an object whose __float__ fails (a numpy array of several values) used to
// surface as pybind11's RuntimeError "Unable to cast".
double number_of(const py::handle& object, const std::string& field) {
  const double number = PyFloat_AsDouble(object.ptr());
  if (number == -1.0 && PyErr_Occurred()) {
    const bool overflow = PyErr_ExceptionMatches(PyExc_OverflowError);
    PyErr_Clear();
    if (overflow) throw floresta::Error("field '" + floresta::detail::clipped(field) + "' holds an integer too large for a float64");
    throw floresta::Error("field '" + floresta::detail::clipped(field) + "' holds a " + type_name_of(object) +
                          " that is not one number; expected a number, a string or None");
  }
  return number;
}

// A Python value as a record value: None/NaN/pd.NA missing, str, bool/int/float numbers.
floresta::Value to_value(const py::handle& object, const std::string& field) {
  if (object.is_none()) return floresta::missing;
  if (py::isinstance<py::str>(object)) return utf8_of(object, "field '" + floresta::detail::clipped(field) + "'");
  if (py::isinstance<py::bool_>(object)) return object.cast<bool>() ? 1.0 : 0.0;
  if (py::isinstance<py::float_>(object) || py::isinstance<py::int_>(object)) return number_of(object, field);
  if (!py::isinstance<py::bytes>(object) && !py::isinstance<py::bytearray>(object)) {
    if (is_pandas_na(object)) return floresta::missing;
    if (py::hasattr(object, "__float__")) return number_of(object, field);  // numpy scalars, Decimal
  }
  throw floresta::Error("field '" + floresta::detail::clipped(field) + "' holds a " + type_name_of(object) +
                        "; expected a number, a string or None");
}

floresta::Record to_record(const py::handle& object) {
  if (!py::isinstance<py::dict>(object)) throw floresta::Error("a record must be a dict of field names to values");
  floresta::Record record;
  for (const auto& [key, value] : object.cast<py::dict>()) {
    // Field names are strings. str(key) used to turn b"idade" or 1 into a field "b'idade'" or
    // "1", silently ignored as an unknown field (the feature then read as missing).
    if (!py::isinstance<py::str>(key))
      throw floresta::Error("record field names must be strings; got the " + type_name_of(key) + " key " +
                            floresta::detail::clipped(py::repr(key)));
    const std::string name = utf8_of(key, "a field name");
    record.set(name, to_value(value, name));
  }
  return record;
}

// A feature's input rule as the dict the model file writes (None when it has none).
py::object input_rule_of(const floresta::Feature& feature) {
  const floresta::InputRule& rule = feature.input;
  if (!rule.present) return py::none();
  py::dict out;
  py::list fold;
  if (rule.fold_case) fold.append("case");
  if (rule.fold_accents) fold.append("accents");
  if (rule.fold_spaces) fold.append("spaces");
  if (py::len(fold)) out["fold"] = fold;
  const auto as_dict = [](const std::vector<std::pair<std::string, std::string>>& pairs) {
    py::dict d;
    for (const auto& [key, value] : pairs) d[py::str(key)] = value;
    return d;
  };
  if (!rule.aliases.empty()) out["aliases"] = as_dict(rule.aliases);
  if (rule.leading_words) out["leading_words"] = true;
  if (rule.otherwise) out["otherwise"] = *rule.otherwise;
  if (rule.min) out["min"] = *rule.min;
  if (rule.max) out["max"] = *rule.max;
  if (!rule.display.empty()) out["display"] = as_dict(rule.display);
  return out;
}

// Contributions, rows x outputs x (features + 1), the bias last (Model::predict_contributions).
py::array_t<double> contributions(const floresta::Model& model, const py::array& X, int n_threads) {
  return with_view(X, [&](const auto& view) {
    py::array_t<double> out({static_cast<py::ssize_t>(view.rows), static_cast<py::ssize_t>(model.num_outputs()),
                             static_cast<py::ssize_t>(model.num_features() + 1)});
    double* destination = out.mutable_data();
    const floresta::PredictOptions options = predict_options(n_threads);
    py::gil_scoped_release release;
    model.predict_contributions(view, destination, options);
    return out;
  });
}

py::object value_object(const floresta::Value& value) {
  if (std::holds_alternative<double>(value)) return py::float_(std::get<double>(value));
  if (std::holds_alternative<std::string>(value)) return py::str(std::get<std::string>(value));
  return py::none();
}

py::object categories_of(const floresta::Feature& feature) {
  if (!feature.string_categories.empty()) return py::cast(feature.string_categories);
  if (!feature.number_categories.empty()) return py::cast(feature.number_categories);
  return py::none();
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "floresta compiled core";
  m.attr("__version__") = floresta::kVersion;
  // Policies and output kinds as enums, each value under one name: the Python layer turns its
  // public string arguments into these (by member name) in one place.
  py::enum_<floresta::OutputKind>(m, "OutputKind")
      .value("raw", floresta::OutputKind::kRaw)
      .value("value", floresta::OutputKind::kValue)
      .value("proba", floresta::OutputKind::kProba)
      .value("class_", floresta::OutputKind::kClass)
      .value("decision", floresta::OutputKind::kDecision)
      .value("distances", floresta::OutputKind::kDistances);
  py::enum_<floresta::UnknownCategory>(m, "UnknownCategory")
      .value("as_trained", floresta::UnknownCategory::kAsTrained)
      .value("error", floresta::UnknownCategory::kError);
  py::enum_<floresta::ExtraFields>(m, "ExtraFields")
      .value("ignore", floresta::ExtraFields::kIgnore)
      .value("error", floresta::ExtraFields::kError);
  m.def("available_kernels", &floresta::available_kernels,
        "The scoring kernels this CPU runs and this build has, fastest first.");
  // The one place floresta::Error is mapped: it becomes ValueError (a subclass named FlorestaError).
  // Kept as plain pointers (the module holds the types): no Python object outlives the interpreter.
  static PyObject* base_error = py::exception<floresta::Error>(m, "FlorestaError", PyExc_ValueError).release().ptr();
  // A refused input value: a FlorestaError that also names the field and the rule it breaks.
  static PyObject* input_error = py::exception<floresta::InputError>(m, "InputError", base_error).release().ptr();
  py::register_exception_translator([](std::exception_ptr thrown) {
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const floresta::InputError& e) {
      py::object error = py::handle(input_error)(e.what());
      error.attr("field") = e.field();
      error.attr("rule") = e.rule();
      PyErr_SetObject(input_error, error.ptr());
    } catch (const floresta::Error& e) {
      PyErr_SetString(base_error, e.what());
    }
  });
  m.def("fold_text", &floresta::fold_text, py::arg("text"), py::arg("case") = true, py::arg("accents") = true,
        py::arg("spaces") = true, "Folds a text as a model's input rules do (see floresta.fold_text).");

  py::class_<floresta::Model>(m, "Model")
      .def_static(
          "from_bytes",
          [](const py::buffer& data, const std::string& name, bool use_best_iteration, int num_iterations,
             bool quantize, const std::string& kernel, int max_depth, int load_threads, const std::string& plan) {
            // A view of the caller's bytes (or uint8 array), kept alive by the caller: no copy.
            const py::buffer_info info = data.request();
            if (info.ndim != 1 || info.itemsize != 1 || (info.shape[0] > 1 && info.strides[0] != 1))
              throw floresta::Error(name + ": model bytes must be a contiguous bytes-like object");
            const std::string_view bytes(static_cast<const char*>(info.ptr), static_cast<std::size_t>(info.size));
            floresta::LoadOptions options;
            options.use_best_iteration = use_best_iteration;
            options.num_iterations = num_iterations;
            options.quantize = quantize;
            options.kernel = kernel;
            options.plan = plan;
            options.max_depth = max_depth;
            options.n_threads = thread_count(load_threads);
            py::gil_scoped_release release;
            return floresta::load_from_memory(bytes, name, options);
          },
          py::arg("data"), py::arg("name"), py::arg("use_best_iteration") = false, py::arg("num_iterations") = 0,
          py::arg("quantize") = true, py::arg("kernel") = "auto", py::arg("max_depth") = 1024,
          py::arg("load_threads") = 0, py::arg("plan") = "auto")
      .def_property_readonly("kernel", &floresta::Model::kernel)
      .def_property_readonly("plan", &floresta::Model::plan)
      .def_property_readonly("num_features", &floresta::Model::num_features)
      .def_property_readonly("num_outputs", &floresta::Model::num_outputs)
      .def_property_readonly("num_classes", &floresta::Model::num_classes)
      .def_property_readonly("num_trees", &floresta::Model::num_trees)
      .def_property_readonly("best_iteration", &floresta::Model::best_iteration)
      .def_property_readonly("is_classifier", &floresta::Model::is_classifier)
      .def_property_readonly("is_outlier_detector", &floresta::Model::is_outlier_detector)
      .def_property_readonly("decision_offset", &floresta::Model::decision_offset)
      .def_property_readonly("objective", &floresta::Model::objective)
      .def_property_readonly("format", &floresta::Model::format)
      .def_property_readonly("feature_names", &floresta::Model::feature_names)
      .def_property_readonly("output_labels", [](const floresta::Model& model) { return model.schema().output_labels; })
      .def_property_readonly("metadata", &floresta::Model::metadata)  // JSON text; the Python layer parses it
      .def_property_readonly("feature_types",
                             [](const floresta::Model& model) {
                               std::vector<std::string> types;
                               for (const auto& f : model.schema().features)
                                 types.push_back(f.is_categorical() ? "categorical" : "numeric");
                               return types;
                             })
      .def("categories", [](const floresta::Model& model, std::size_t column) {
        if (column >= model.num_features()) throw floresta::Error("feature index " + std::to_string(column) + " out of range");
        return categories_of(model.schema().features[column]);
      })
      .def("input_rule", [](const floresta::Model& model, std::size_t column) {
        if (column >= model.num_features()) throw floresta::Error("feature index " + std::to_string(column) + " out of range");
        return input_rule_of(model.schema().features[column]);
      })
      .def_property_readonly("is_clusterer", &floresta::Model::is_clusterer)
      .def("score", &score, py::arg("kind"), py::arg("X"), py::arg("n_threads") = 1)
      .def("scorer", [](const floresta::Model& model, floresta::OutputKind kind, bool flat) { return make_scorer(model, kind, flat); },
           py::arg("kind"), py::arg("flat") = false)
      // predict's output for this model (Model::predict_kind: class index, value, -1/1 or
      // cluster), one value a row (1-D) where the model has one output.
      .def("predict_scorer", [](const floresta::Model& model) { return make_scorer(model, model.predict_kind(), true); })
      .def("predict_ranked", &predict_ranked, py::arg("X"), py::arg("n_threads") = 1)
      .def("encode_values",
           [](const floresta::Model& model, std::size_t column, const py::sequence& values,
              floresta::UnknownCategory unknown_category) {
             if (column >= model.num_features()) throw floresta::Error("feature index out of range");
             const auto options = record_options(unknown_category, floresta::ExtraFields::kIgnore);
             const std::string& name = model.schema().features[column].name;
             py::array_t<double> out(static_cast<py::ssize_t>(py::len(values)));
             double* o = out.mutable_data();
             std::size_t i = 0;
             for (const auto& v : values) o[i++] = model.encode_value(column, to_value(v, name), options);
             return out;
           },
           py::arg("column"), py::arg("values"), py::arg("unknown_category") = floresta::UnknownCategory::kAsTrained)
      .def("encode_records",
           [](const floresta::Model& model, const py::sequence& records, floresta::UnknownCategory unknown_category,
              floresta::ExtraFields extra_fields) {
             const auto options = record_options(unknown_category, extra_fields);
             const std::size_t d = model.num_features();
             py::array_t<double> out({static_cast<py::ssize_t>(py::len(records)), static_cast<py::ssize_t>(d)});
             double* o = out.mutable_data();
             std::size_t r = 0;
             for (const auto& item : records) {
               try {
                 const auto row = model.encode(to_record(item), options);
                 std::copy(row.begin(), row.end(), o + r * d);
               } catch (const floresta::InputError& e) {
                 throw floresta::InputError(e.field(), e.rule(), "record " + std::to_string(r) + ": " + e.what());
               } catch (const floresta::Error& e) {
                 throw floresta::Error("record " + std::to_string(r) + ": " + e.what());
               }
               ++r;
             }
             return out;
           },
           py::arg("records"), py::arg("unknown_category") = floresta::UnknownCategory::kAsTrained,
           py::arg("extra_fields") = floresta::ExtraFields::kIgnore)
      .def_property_readonly("can_explain", &floresta::Model::can_explain)
      .def_property_readonly("explain_refusal", &floresta::Model::explain_refusal)
      .def("expected_value", &floresta::Model::expected_value)
      .def("predict_contributions", &contributions, py::arg("X"), py::arg("n_threads") = 1)
      .def("explain_record",
           [](const floresta::Model& model, const py::handle& record, std::size_t k, py::object output,
              floresta::UnknownCategory unknown_category, floresta::ExtraFields extra_fields) {
             const std::size_t which = output.is_none() ? floresta::Model::kTopOutput : output.cast<std::size_t>();
             py::list out;
             for (const auto& part :
                  model.explain_record(to_record(record), k, which, record_options(unknown_category, extra_fields))) {
               py::dict item;
               item["field"] = part.field;
               item["value"] = value_object(part.value);
               item["contribution"] = part.contribution;
               out.append(item);
             }
             return out;
           },
           py::arg("record"), py::arg("k") = 0, py::arg("output") = py::none(),
           py::arg("unknown_category") = floresta::UnknownCategory::kAsTrained,
           py::arg("extra_fields") = floresta::ExtraFields::kIgnore)
      .def("inertia", [](const floresta::Model& model, const py::array& X, int n_threads) {
        const floresta::PredictOptions options = predict_options(n_threads);
        return with_view(X, [&](const auto& view) {
          py::gil_scoped_release release;
          return model.inertia(view, options);
        });
      }, py::arg("X"), py::arg("n_threads") = 1);
}
