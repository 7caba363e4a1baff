// The only file that knows about Python: converts numpy arrays to pointers,
// re-checks shapes and dtypes, and releases the GIL around the loops. Argument
// checking with nanopq's messages lives in the Python layer; what is checked
// here is what could otherwise corrupt memory.

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/typing.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include <nanopq_cpp/nanopq_cpp.hpp>

namespace py = pybind11;
using namespace nanopq_cpp;
// The bindings are the engine's own front end: they call internals directly.
using namespace nanopq_cpp::impl;

namespace {

using FloatArray = py::array_t<float, py::array::c_style>;
// Type hints pybind11 writes into the signatures, from which pybind11-stubgen
// generates python/nanopq_cpp/_core.pyi (`pybind11-stubgen nanopq_cpp._core
// -o python`; tests/test_typing.py checks it is current). None changes what
// a function accepts.
using Int64Array = py::array_t<std::int64_t, py::array::c_style>;
using TopKArrays = py::typing::Tuple<Int64Array, FloatArray>;
using OptionalArray = py::typing::Optional<py::array>;
using LogCallback = py::typing::Optional<py::typing::Callable<void(py::str)>>;
using ModelTuple = py::typing::Tuple<py::str, py::str, FloatArray, py::typing::Optional<FloatArray>>;

// C-contiguous and aligned: numpy allows misaligned arrays (np.frombuffer at
// an odd offset, buffers unpickled from a network frame), and loading a float
// from a misaligned address is undefined behaviour.
void require_contiguous(const py::array& array, const char* name) {
    if (!(array.flags() & py::array::c_style)) throw std::invalid_argument(std::string(name) + " must be C-contiguous");
    if (!(array.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
        throw std::invalid_argument(std::string(name) +
                                    " must be aligned (copy it with np.require(..., requirements='A'))");
}

// True if the array's dtype is T in native byte order. numpy's own dtype
// equivalence tells '>f4' from '<f4': kind and itemsize alone do not, and
// reading big-endian data as native gives wrong numbers silently.
template <class T>
bool has_dtype(const py::array& array) {
    return py::array_t<T>::check_(array);
}

// Converts a C-contiguous float32 array, refusing anything that would need a copy
// (the Python layer makes the copy explicitly, once).
FloatArray as_float32(const py::array& array, const char* name) {
    if (!has_dtype<float>(array))
        throw std::invalid_argument(std::string(name) + " must have dtype float32 (native byte order)");
    require_contiguous(array, name);
    return py::reinterpret_borrow<FloatArray>(array);
}

CodebookView codebook_of(const FloatArray& codewords) {
    if (codewords.ndim() != 3) throw std::invalid_argument("codewords must have shape (M, Ks, Ds)");
    return CodebookView{codewords.data(), static_cast<std::size_t>(codewords.shape(0)),
                        static_cast<std::size_t>(codewords.shape(1)), static_cast<std::size_t>(codewords.shape(2))};
}

// Vectors of shape (N, M * Ds) for `codebook`: the rows encode and
// distance_tables read.
FloatArray rows_of(const py::array& vecs_in, const char* name, const CodebookView& codebook) {
    FloatArray vecs = as_float32(vecs_in, name);
    if (vecs.ndim() != 2 || static_cast<std::size_t>(vecs.shape(1)) != codebook.dim())
        throw std::invalid_argument(std::string(name) + " must have shape (N, M * Ds)");
    return vecs;
}

// Progress lines go to a Python callable, called with the GIL held.
Logger logger_of(const py::object& callback) {
    if (callback.is_none()) return {};
    return [callback](const std::string& line) {
        py::gil_scoped_acquire gil;
        callback(line);
    };
}

// Calls body.template operator()<code_t>() with code_t matching the array's
// unsigned dtype (uint8, uint16, uint32).
template <class Body>
auto dispatch_codes(const py::array& codes, Body&& body) {
    require_contiguous(codes, "codes");
    if (has_dtype<std::uint8_t>(codes)) return body(static_cast<const std::uint8_t*>(codes.data()));
    if (has_dtype<std::uint16_t>(codes)) return body(static_cast<const std::uint16_t*>(codes.data()));
    if (has_dtype<std::uint32_t>(codes)) return body(static_cast<const std::uint32_t*>(codes.data()));
    throw std::invalid_argument("codes must be uint8, uint16 or uint32 (native byte order)");
}

py::dtype code_dtype_for(std::size_t n_codewords) {
    switch (code_bytes_for(n_codewords)) {
        case 1: return py::dtype::of<std::uint8_t>();
        case 2: return py::dtype::of<std::uint16_t>();
        default: return py::dtype::of<std::uint32_t>();
    }
}

// vecs of shape (N, D) as the core takes them; the checks guard the pointers.
FloatArray training_vectors(const py::array& vecs_in, std::size_t n_subspaces) {
    FloatArray vecs = as_float32(vecs_in, "vecs");
    if (vecs.ndim() != 2) throw std::invalid_argument("vecs must have shape (N, D)");
    subspace_dim_of(vecs.shape(1), n_subspaces);  // the engine's training trusts it
    return vecs;
}

// The starting codewords k-means takes for `init` (null unless 'given'), held
// in `storage`, after the checks that keep the core inside its buffers.
const float* starting_codewords(KMeansInit init, const OptionalArray& initial_in, std::size_t n, std::size_t dim,
                                std::size_t n_subspaces, std::size_t n_codewords, FloatArray& storage) {
    if (init == KMeansInit::points && n_codewords > n)
        throw std::invalid_argument("'points' init needs at least Ks training vectors");
    if (init != KMeansInit::given) return nullptr;
    storage = as_float32(py::array(initial_in), "minit");
    const CodebookView start = codebook_of(storage);
    if (start.n_subspaces != n_subspaces || start.n_codewords != n_codewords || start.subspace_dim != dim / n_subspaces)
        throw std::invalid_argument("initial codewords must have shape (M, Ks, Ds)");
    return storage.data();
}

FloatArray train_codewords_py(const py::array& vecs_in, std::size_t n_subspaces, std::size_t n_codewords,
                              std::size_t iterations, std::uint64_t seed, const std::string& minit,
                              const OptionalArray& initial_in, const LogCallback& log_callback) {
    FloatArray vecs = training_vectors(vecs_in, n_subspaces);
    const std::size_t n = vecs.shape(0), dim = vecs.shape(1);
    KMeansOptions options;
    options.iterations = iterations;
    options.init = kmeans_init_from_name(minit);
    FloatArray initial_array;
    const float* initial =
        starting_codewords(options.init, initial_in, n, dim, n_subspaces, n_codewords, initial_array);
    const Logger log = logger_of(log_callback);
    std::vector<float> codewords;
    {
        py::gil_scoped_release release;
        codewords = train_codewords(vecs.data(), n, dim, n_subspaces, n_codewords, options, seed, initial, log);
    }
    FloatArray out({n_subspaces, n_codewords, dim / n_subspaces});
    std::copy(codewords.begin(), codewords.end(), out.mutable_data());
    return std::move(out);
}

py::array encode_py(const py::array& vecs_in, const py::array& codewords_in, const LogCallback& log_callback) {
    FloatArray codewords = as_float32(codewords_in, "codewords");
    const CodebookView codebook = codebook_of(codewords);
    FloatArray vecs = rows_of(vecs_in, "vecs", codebook);
    const std::size_t n = vecs.shape(0);
    py::array codes(code_dtype_for(codebook.n_codewords), {n, codebook.n_subspaces});
    const Logger log = logger_of(log_callback);
    void* out = codes.mutable_data();
    {
        py::gil_scoped_release release;
        switch (code_bytes_for(codebook.n_codewords)) {
            case 1: encode(vecs.data(), n, codebook, static_cast<std::uint8_t*>(out), 0, log); break;
            case 2: encode(vecs.data(), n, codebook, static_cast<std::uint16_t*>(out), 0, log); break;
            default: encode(vecs.data(), n, codebook, static_cast<std::uint32_t*>(out), 0, log); break;
        }
    }
    return codes;
}

FloatArray decode_py(const py::array& codes, const py::array& codewords_in) {
    FloatArray codewords = as_float32(codewords_in, "codewords");
    const CodebookView codebook = codebook_of(codewords);
    if (codes.ndim() != 2 || static_cast<std::size_t>(codes.shape(1)) != codebook.n_subspaces)
        throw std::invalid_argument("codes must have shape (N, M)");
    const std::size_t n = codes.shape(0);
    FloatArray vecs({n, codebook.dim()});
    float* out = vecs.mutable_data();
    dispatch_codes(codes, [&](auto* code_data) {
        py::gil_scoped_release release;
        decode(code_data, n, codebook, out);
    });
    return std::move(vecs);
}

FloatArray distance_tables_py(const py::array& queries_in, const py::array& codewords_in, const std::string& metric) {
    FloatArray codewords = as_float32(codewords_in, "codewords");
    const CodebookView codebook = codebook_of(codewords);
    FloatArray queries = rows_of(queries_in, "query", codebook);
    const Metric parsed = metric_from_name(metric);
    const std::size_t n_queries = queries.shape(0);
    FloatArray tables({n_queries, codebook.n_subspaces, codebook.n_codewords});
    float* out = tables.mutable_data();
    {
        py::gil_scoped_release release;
        distance_tables(queries.data(), n_queries, codebook, parsed, out);
    }
    return std::move(tables);
}

FloatArray tables_of(const py::array& tables_in) {
    FloatArray tables = as_float32(tables_in, "dtable");
    if (tables.ndim() != 3) throw std::invalid_argument("dtable must have shape (Nq, M, Ks)");
    return tables;
}

FloatArray adist_py(const py::array& tables_in, const py::array& codes) {
    FloatArray tables = tables_of(tables_in);
    const std::size_t n_queries = tables.shape(0), n_subspaces = tables.shape(1), n_codewords = tables.shape(2);
    if (codes.ndim() != 2 || static_cast<std::size_t>(codes.shape(1)) != n_subspaces)
        throw std::invalid_argument("codes must have shape (N, M)");
    const std::size_t n = codes.shape(0);
    FloatArray distances({n_queries, n});
    float* out = distances.mutable_data();
    dispatch_codes(codes, [&](auto* code_data) {
        py::gil_scoped_release release;
        adist(tables.data(), n_queries, n_subspaces, n_codewords, code_data, n, out);
    });
    return std::move(distances);
}

// search()'s optional row ids: None, or a 1-D int64 array (held here).
struct SubsetArgument {
    py::array_t<std::int64_t, py::array::c_style> array;
    const std::int64_t* data = nullptr;
    std::size_t size = 0;
};

SubsetArgument subset_of(const OptionalArray& subset_in) {
    SubsetArgument subset;
    if (subset_in.is_none()) return subset;
    // Checked before the cast: an array_t view of a non-array would read
    // the object's memory as an array header.
    if (!py::isinstance<py::array>(subset_in) || !has_dtype<std::int64_t>(subset_in.cast<py::array>()))
        throw std::invalid_argument("subset must be a 1-D int64 array");
    subset.array = py::reinterpret_borrow<py::array>(subset_in);
    if (subset.array.ndim() != 1) throw std::invalid_argument("subset must be a 1-D int64 array");
    require_contiguous(subset.array, "subset");
    subset.data = subset.array.data();
    subset.size = subset.array.shape(0);
    return subset;
}

TopKArrays search_py(const py::array& tables_in, const py::array& codes, std::size_t topk, const std::string& metric,
                     const OptionalArray& subset_in) {
    FloatArray tables = tables_of(tables_in);
    const std::size_t n_queries = tables.shape(0), n_subspaces = tables.shape(1), n_codewords = tables.shape(2);
    if (codes.ndim() != 2 || static_cast<std::size_t>(codes.shape(1)) != n_subspaces)
        throw std::invalid_argument("codes must have shape (N, M)");
    const Metric parsed = metric_from_name(metric);
    const std::size_t n = codes.shape(0);
    const SubsetArgument subset = subset_of(subset_in);
    py::array_t<std::int64_t> ids({n_queries, topk});
    FloatArray distances({n_queries, topk});
    std::int64_t* ids_out = ids.mutable_data();
    float* distances_out = distances.mutable_data();
    dispatch_codes(codes, [&](auto* code_data) {
        py::gil_scoped_release release;
        search(tables.data(), n_queries, n_subspaces, n_codewords, code_data, n, topk, parsed, subset.data, subset.size,
               ids_out, distances_out);
    });
    return py::make_tuple(ids, distances);
}

// One shard's array from a list of them: an ndarray of dtype T, 2-D, C-contiguous and aligned.
template <class T>
py::array shard_array(const py::handle& item, const char* name, std::size_t shard, const char* dtype) {
    const std::string label = std::string(name) + "[" + std::to_string(shard) + "]";
    if (!py::isinstance<py::array>(item) || !has_dtype<T>(py::reinterpret_borrow<py::array>(item)))
        throw std::invalid_argument(label + " must be a numpy array of dtype " + dtype + " (native byte order)");
    py::array array = py::reinterpret_borrow<py::array>(item);
    if (array.ndim() != 2) throw std::invalid_argument(label + " must have shape (Nq, k)");
    require_contiguous(array, label.c_str());
    return array;
}

TopKArrays merge_topk_py(const py::typing::List<py::array>& ids_in, const py::typing::List<py::array>& distances_in,
                         std::size_t topk, const std::string& metric) {
    const Metric parsed = metric_from_name(metric);
    if (ids_in.size() != distances_in.size() || ids_in.size() == 0)
        throw std::invalid_argument("ids and distances must be lists of one array per shard, of the same length");
    std::vector<py::array> arrays;  // keeps the checked arrays alive while the GIL is released
    std::vector<ShardTopk> shards;
    const std::size_t n_shards = ids_in.size();
    std::size_t n_queries = 0;
    for (std::size_t s = 0; s < n_shards; ++s) {
        py::array ids = shard_array<std::int64_t>(ids_in[s], "ids", s, "int64");
        py::array distances = shard_array<float>(distances_in[s], "distances", s, "float32");
        if (ids.shape(0) != distances.shape(0) || ids.shape(1) != distances.shape(1))
            throw std::invalid_argument("ids[" + std::to_string(s) + "] and distances[" + std::to_string(s) +
                                        "] must have the same shape");
        if (s == 0) n_queries = ids.shape(0);
        if (static_cast<std::size_t>(ids.shape(0)) != n_queries)
            throw std::invalid_argument("every shard must answer the same number of queries (Nq)");
        shards.push_back(ShardTopk{static_cast<const std::int64_t*>(ids.data()),
                                   static_cast<const float*>(distances.data()),
                                   static_cast<std::size_t>(ids.shape(1))});
        arrays.push_back(std::move(ids));
        arrays.push_back(std::move(distances));
    }
    py::array_t<std::int64_t> ids({n_queries, topk});
    FloatArray distances({n_queries, topk});
    std::int64_t* ids_out = ids.mutable_data();
    float* distances_out = distances.mutable_data();
    {
        py::gil_scoped_release release;
        merge_topk(shards.data(), n_shards, n_queries, topk, parsed, ids_out, distances_out);
    }
    return py::make_tuple(ids, distances);
}

// Packed codes cross into C++ once, as a PackedCodes that owns its bytes:
// checked against (N, M, Ks) when made, immutable after, so a search never
// re-checks them and nothing can change them under a running scan. Python
// sees the bytes through a read-only view that cannot be made writable (its
// base is the PackedCodes object, which exports no writable buffer).
PackedCodes packed_from_bytes(const py::array& bytes, std::size_t n_rows, std::size_t n_subspaces,
                              std::size_t n_codewords) {
    if (!has_dtype<std::uint8_t>(bytes) || bytes.ndim() != 1)
        throw std::invalid_argument("packed data must be a 1-D uint8 array");
    require_contiguous(bytes, "packed data");
    const auto* data = static_cast<const std::uint8_t*>(bytes.data());
    std::vector<std::uint8_t> owned(data, data + bytes.nbytes());
    py::gil_scoped_release release;
    return PackedCodes(std::move(owned), n_rows, n_subspaces, n_codewords);
}

PackedCodes pack_py(const py::array& codes, std::size_t n_codewords) {
    if (codes.ndim() != 2) throw std::invalid_argument("codes must have shape (N, M)");
    const std::size_t n = codes.shape(0), n_subspaces = codes.shape(1);
    return dispatch_codes(codes, [&](auto* code_data) {
        py::gil_scoped_release release;
        return PackedCodes::from_codes(code_data, n, n_subspaces, n_codewords);
    });
}

py::array packed_data_view(const py::object& self) {
    const PackedCodes& packed = self.cast<const PackedCodes&>();
    py::array view(py::dtype::of<std::uint8_t>(), {static_cast<py::ssize_t>(packed.nbytes())}, {py::ssize_t{1}},
                   packed.bytes().data(), self);
    py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    return view;
}

py::array unpack_py(const PackedCodes& packed) {
    py::array_t<std::uint8_t> codes({packed.rows(), packed.n_subspaces()});
    std::uint8_t* out = codes.mutable_data();
    {
        py::gil_scoped_release release;
        impl::unpack_rows(packed.view(), 0, packed.rows(), out);
    }
    return std::move(codes);
}

void require_tables_fit(const FloatArray& tables, const PackedCodes& packed) {
    if (static_cast<std::size_t>(tables.shape(1)) != packed.n_subspaces() ||
        static_cast<std::size_t>(tables.shape(2)) != packed.n_codewords())
        throw std::invalid_argument("the distance tables' (M, Ks) must be the packed codes' (M, Ks)");
}

FloatArray adist_packed_py(const py::array& tables_in, const PackedCodes& packed) {
    FloatArray tables = tables_of(tables_in);
    require_tables_fit(tables, packed);
    const std::size_t n_queries = tables.shape(0), n_rows = packed.rows();
    FloatArray distances({n_queries, n_rows});
    float* out = distances.mutable_data();
    {
        py::gil_scoped_release release;
        adist_packed(tables.data(), n_queries, packed.view(), out);
    }
    return std::move(distances);
}

TopKArrays search_packed_py(const py::array& tables_in, const PackedCodes& packed, std::size_t topk,
                            const std::string& metric, const OptionalArray& subset_in) {
    FloatArray tables = tables_of(tables_in);
    require_tables_fit(tables, packed);
    const Metric parsed = metric_from_name(metric);
    const std::size_t n_queries = tables.shape(0);
    const SubsetArgument subset = subset_of(subset_in);
    py::array_t<std::int64_t> ids({n_queries, topk});
    FloatArray distances({n_queries, topk});
    std::int64_t* ids_out = ids.mutable_data();
    float* distances_out = distances.mutable_data();
    {
        py::gil_scoped_release release;
        search_packed(tables.data(), n_queries, packed.view(), topk, parsed, subset.data, subset.size, ids_out,
                      distances_out);
    }
    return py::make_tuple(ids, distances);
}

// The path packed codes of each width take at the active SIMD level.
py::typing::Dict<py::str, py::str> fast_scan_paths_py() {
    const KernelTable& kernels = active_kernels();
    py::dict paths;
    paths["4-bit"] = fast_scan_path(kernels, 16);
    paths["8-bit"] = fast_scan_path(kernels, 256);
    return paths;
}

FloatArray parametric_rotation_py(const py::array& vecs_in, std::size_t n_subspaces) {
    FloatArray vecs = training_vectors(vecs_in, n_subspaces);
    const std::size_t n = vecs.shape(0), dim = vecs.shape(1);
    if (n < 2) throw std::invalid_argument("the parametric rotation needs at least 2 training vectors");
    std::vector<float> rotation;
    {
        py::gil_scoped_release release;
        rotation = parametric_rotation(vecs.data(), n, dim, n_subspaces);
    }
    FloatArray out({dim, dim});
    std::copy(rotation.begin(), rotation.end(), out.mutable_data());
    return std::move(out);
}

py::typing::Tuple<FloatArray, FloatArray> train_opq_py(const py::array& vecs_in, std::size_t n_subspaces,
                                                       std::size_t n_codewords, std::size_t pq_iterations,
                                                       std::size_t rotation_iterations, bool parametric_init,
                                                       std::uint64_t seed, const std::string& minit,
                                                       const OptionalArray& initial_in,
                                                       const LogCallback& log_callback) {
    FloatArray vecs = training_vectors(vecs_in, n_subspaces);
    const std::size_t n = vecs.shape(0), dim = vecs.shape(1);
    OPQTrainingOptions options;
    options.pq_iterations = pq_iterations;
    options.rotation_iterations = rotation_iterations;
    options.parametric_init = parametric_init;
    options.seed = seed;
    options.init = kmeans_init_from_name(minit);
    FloatArray initial_array;
    const float* initial =
        starting_codewords(options.init, initial_in, n, dim, n_subspaces, n_codewords, initial_array);
    const Logger log = logger_of(log_callback);
    OPQModel model;
    {
        py::gil_scoped_release release;
        model = train_opq(vecs.data(), n, dim, n_subspaces, n_codewords, options, initial, log);
    }
    FloatArray rotation({dim, dim});
    std::copy(model.rotation.begin(), model.rotation.end(), rotation.mutable_data());
    FloatArray codewords({n_subspaces, n_codewords, dim / n_subspaces});
    std::copy(model.codewords.begin(), model.codewords.end(), codewords.mutable_data());
    return py::make_tuple(rotation, codewords);
}

// Model files (docs/model-format.md): the core's reader and writer serve Python
// too, so the format is parsed and checked in one place (and that place fuzzed).
// The model file bytes of a PQ (rotation None) or an OPQ, from Python's arrays.
std::vector<unsigned char> model_file_bytes(const std::string& metric, const py::array& codewords_in,
                                            const py::object& rotation_in) {
    FloatArray codewords = as_float32(codewords_in, "codewords");
    const CodebookView view = codebook_of(codewords);
    ProductQuantizer pq(view.n_subspaces, view.n_codewords, view.subspace_dim,
                        std::vector<float>(codewords.data(), codewords.data() + codewords.size()),
                        metric_from_name(metric));
    if (rotation_in.is_none()) return model_to_bytes(pq);
    FloatArray rotation = as_float32(py::array(rotation_in), "R");
    return model_to_bytes(OptimizedProductQuantizer(
        std::vector<float>(rotation.data(), rotation.data() + rotation.size()), std::move(pq)));
}

py::bytes model_to_bytes_py(const std::string& metric, const py::array& codewords, const OptionalArray& rotation) {
    const std::vector<unsigned char> bytes = model_file_bytes(metric, codewords, rotation);
    return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

py::typing::Tuple<int, py::str, py::str, int, int, int, int, int> header_tuple(const ModelHeader& header) {
    return py::make_tuple(header.format_version, model_kind_name(header.kind), metric_name(header.metric),
                          header.n_subspaces, header.n_codewords, header.subspace_dim, header.payload_bytes,
                          header.payload_crc32);
}

// A numpy array over `values`, which it takes over: no copy of the data.
template <class T>
py::array_t<T> array_taking(std::vector<T>&& values, const std::vector<py::ssize_t>& shape) {
    auto* owned = new std::vector<T>(std::move(values));
    py::capsule release(owned, [](void* pointer) { delete static_cast<std::vector<T>*>(pointer); });
    return py::array_t<T>(shape, owned->data(), release);
}

// (kind, metric, codewords, R or None) of a quantizer's arrays.
ModelTuple model_tuple(ModelKind kind, Metric metric, std::vector<float>&& codewords, std::vector<float>&& rotation,
                       std::size_t M, std::size_t Ks, std::size_t Ds) {
    py::object rotation_array = py::none();
    if (kind == ModelKind::opq) {
        const auto dim = static_cast<py::ssize_t>(M * Ds);
        rotation_array = array_taking(std::move(rotation), {dim, dim});
    }
    const std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(M), static_cast<py::ssize_t>(Ks),
                                         static_cast<py::ssize_t>(Ds)};
    return py::make_tuple(model_kind_name(kind), metric_name(metric), array_taking(std::move(codewords), shape),
                          rotation_array);
}

// (kind, metric, codewords, R or None) of the model held in `data`.
ModelTuple quantizer_tuple(AnyQuantizer& model);

ModelTuple model_from_bytes_py(const py::bytes& data, const std::string& source) {
    const std::string_view bytes = data;
    AnyQuantizer model = model_from_bytes(bytes.data(), bytes.size(), source);
    return quantizer_tuple(model);
}

// The model file at `path`, read by the core (bounded memory, see
// model_file.hpp) with the GIL released; its arrays become numpy's uncopied.
ModelTuple load_model_file_py(const std::string& path) {
    detail::ModelArrays model;
    {
        py::gil_scoped_release release;
        model = detail::read_model_arrays(path);
    }
    const ModelHeader& header = model.header;
    return model_tuple(header.kind, header.metric, std::move(model.codewords), std::move(model.rotation),
                       static_cast<std::size_t>(header.n_subspaces), static_cast<std::size_t>(header.n_codewords),
                       static_cast<std::size_t>(header.subspace_dim));
}

void save_model_file_py(const std::string& path, const std::string& metric, const py::array& codewords,
                        const OptionalArray& rotation) {
    const std::vector<unsigned char> data = model_file_bytes(metric, codewords, rotation);
    py::gil_scoped_release release;
    detail::write_file(data, path);
}

// ---- the inverted index (rii.hpp) ------------------------------------------

// A 2-D uint8 array of M columns: codes or centers for an index.
const std::uint8_t* index_codes(const py::array& codes, const char* name, std::size_t n_subspaces) {
    if (!has_dtype<std::uint8_t>(codes) || codes.ndim() != 2 || static_cast<std::size_t>(codes.shape(1)) != n_subspaces)
        throw std::invalid_argument(std::string(name) +
                                    " must be a uint8 array of shape (N, M=" + std::to_string(n_subspaces) + ")");
    require_contiguous(codes, name);
    return static_cast<const std::uint8_t*>(codes.data());
}

// A 1-D int64 array of `n` ids, or of any length when n is SIZE_MAX.
const std::int64_t* index_ids(const py::array& ids, const char* name, std::size_t n) {
    if (!has_dtype<std::int64_t>(ids) || ids.ndim() != 1)
        throw std::invalid_argument(std::string(name) + " must be a 1-D int64 array");
    if (n != SIZE_MAX && static_cast<std::size_t>(ids.shape(0)) != n)
        throw std::invalid_argument(std::string(name) + " must hold one id per row (" + std::to_string(n) + ")");
    require_contiguous(ids, name);
    return static_cast<const std::int64_t*>(ids.data());
}

template <class T>
py::array_t<T> array_of(const std::vector<T>& values, std::size_t rows, std::size_t columns) {
    py::array_t<T> out({rows, columns});
    std::copy(values.begin(), values.end(), out.mutable_data());
    return out;
}

// An optional 1-D int64 array of ids of any length: its data (null for None) and its length.
std::pair<const std::int64_t*, std::size_t> optional_ids(const OptionalArray& ids_in, const char* name) {
    if (ids_in.is_none()) return {nullptr, 0};
    const py::array ids = ids_in.cast<py::array>();
    return {index_ids(ids, name, SIZE_MAX), static_cast<std::size_t>(ids.shape(0))};
}

// A search's ids and distances as (Nq, k) arrays.
TopKArrays top_k_arrays(const SearchResult& result) {
    return py::make_tuple(array_of(result.ids, result.n_queries, result.k),
                          array_of(result.distances, result.n_queries, result.k));
}

Rii rii_new(const py::array& codewords_in, const std::string& metric) {
    FloatArray codewords = as_float32(codewords_in, "codewords");
    const CodebookView codebook = codebook_of(codewords);
    std::vector<float> values(codewords.data(), codewords.data() + codewords.size());
    return Rii(std::move(values), codebook.n_subspaces, codebook.n_codewords, codebook.subspace_dim,
               metric_from_name(metric));
}

void rii_add(Rii& index, const py::array& codes, const OptionalArray& ids_in, bool update_lists) {
    const std::uint8_t* data = index_codes(codes, "codes", index.n_subspaces());
    const std::size_t n = codes.shape(0);
    const std::int64_t* ids = ids_in.is_none() ? nullptr : index_ids(ids_in.cast<py::array>(), "ids", n);
    py::gil_scoped_release release;
    index.add(data, n, ids, update_lists);
}

void rii_reconfigure(Rii& index, std::size_t n_lists, std::size_t iterations, std::uint64_t seed,
                     const LogCallback& log_callback) {
    const Logger log = logger_of(log_callback);
    py::gil_scoped_release release;
    index.reconfigure(n_lists, iterations, seed, log);
}

void rii_remove(Rii& index, const py::array& ids_in) {
    const std::int64_t* ids = index_ids(ids_in, "ids", SIZE_MAX);
    const std::size_t n = ids_in.shape(0);
    py::gil_scoped_release release;
    index.remove(ids, n);
}

// Tables None: the index makes each query's table (l2 entries as dtable's).
TopKArrays rii_search(const Rii& index, const py::array& queries_in, const OptionalArray& tables_in, std::size_t topk,
                      std::size_t n_candidates, const OptionalArray& targets_in, const std::string& method) {
    FloatArray queries = as_float32(queries_in, "queries");
    if (queries.ndim() != 2 || static_cast<std::size_t>(queries.shape(1)) != index.dim())
        throw std::invalid_argument("queries must have shape (Nq, D=" + std::to_string(index.dim()) + ")");
    FloatArray tables;
    if (!tables_in.is_none()) {
        tables = tables_of(tables_in.cast<py::array>());
        if (tables.shape(0) != queries.shape(0) || static_cast<std::size_t>(tables.shape(1)) != index.n_subspaces() ||
            static_cast<std::size_t>(tables.shape(2)) != index.n_codewords())
            throw std::invalid_argument("dtable must have shape (Nq, M, Ks) of this index, one table a query");
    }
    const float* table_data = tables_in.is_none() ? nullptr : tables.data();
    if (method != "linear" && method != "ivf") throw std::invalid_argument("method must be 'linear' or 'ivf'");
    const auto [targets, n_targets] = optional_ids(targets_in, "target_ids");
    const std::size_t n_queries = queries.shape(0);
    SearchResult result;
    {
        py::gil_scoped_release release;
        result = index.search(queries.data(), table_data, n_queries, topk, n_candidates, targets, n_targets,
                              method == "linear" ? RiiMethod::linear : RiiMethod::ivf);
    }
    return top_k_arrays(result);
}

Rii rii_restore(const py::array& codewords_in, const std::string& metric, const py::array& codes,
                const py::array& ids_in, const py::array& centers_in, const py::array& row_lists_in) {
    FloatArray codewords = as_float32(codewords_in, "codewords");
    const CodebookView codebook = codebook_of(codewords);
    const std::uint8_t* code_data = index_codes(codes, "codes", codebook.n_subspaces);
    const std::size_t n = codes.shape(0);
    const std::int64_t* ids = index_ids(ids_in, "ids", n);
    const std::uint8_t* centers = index_codes(centers_in, "centers", codebook.n_subspaces);
    const std::int64_t* row_lists = index_ids(row_lists_in, "row_lists", n);
    std::vector<float> values(codewords.data(), codewords.data() + codewords.size());
    py::gil_scoped_release release;
    return Rii::restore(std::move(values), codebook.n_subspaces, codebook.n_codewords, codebook.subspace_dim,
                        metric_from_name(metric), code_data, ids, n, centers, centers_in.shape(0), row_lists);
}

// The quantizer as model_tuple gives it (kind, metric, codewords, R or None).
ModelTuple quantizer_tuple(AnyQuantizer& model) {
    return std::visit(
        [](auto& quantizer) {
            std::vector<float> codewords = quantizer.codewords(), rotation;
            ModelKind kind = ModelKind::pq;
            if constexpr (std::is_same_v<std::decay_t<decltype(quantizer)>, OptimizedProductQuantizer>) {
                rotation = quantizer.rotation();
                kind = ModelKind::opq;
            }
            return model_tuple(kind, quantizer.metric(), std::move(codewords), std::move(rotation),
                               quantizer.n_subspaces(), quantizer.n_codewords(), quantizer.subspace_dim());
        },
        model);
}

// An index file from the index and its quantizer's model file bytes.
void save_index_py(const std::string& path, const Rii& index, const py::bytes& model_data) {
    const std::string_view model = model_data;
    AnyQuantizer quantizer = model_from_bytes(model.data(), model.size(), "the quantizer");
    py::gil_scoped_release release;
    save_index(index, quantizer, path);
}

py::typing::Tuple<ModelTuple, Rii> load_index_py(const std::string& path) {
    std::optional<LoadedRii> loaded;
    {
        py::gil_scoped_release release;
        loaded.emplace(load_index(path));
    }
    return py::make_tuple(quantizer_tuple(loaded->quantizer), std::move(loaded->index));
}

// ---- the residual IVF-PQ index (ivfpq.hpp) ---------------------------------

IVFPQ ivfpq_from_parts(const py::array& codewords_in, const std::string& metric, const py::array& centroids_in,
                       bool by_residual) {
    FloatArray codewords = as_float32(codewords_in, "codewords");
    const CodebookView codebook = codebook_of(codewords);
    FloatArray centroids = as_float32(centroids_in, "coarse_centroids");
    if (centroids.ndim() != 2 || static_cast<std::size_t>(centroids.shape(1)) != codebook.dim())
        throw std::invalid_argument("coarse_centroids must have shape (nlist, D=" + std::to_string(codebook.dim()) +
                                    ")");
    ProductQuantizer pq(codebook.n_subspaces, codebook.n_codewords, codebook.subspace_dim,
                        std::vector<float>(codewords.data(), codewords.data() + codewords.size()),
                        metric_from_name(metric));
    return IVFPQ(std::move(pq), std::vector<float>(centroids.data(), centroids.data() + centroids.size()),
                 static_cast<std::size_t>(centroids.shape(0)), by_residual);
}

void ivfpq_train(IVFPQ& index, const py::array& vecs_in, std::size_t iterations, std::size_t coarse_iterations,
                 std::uint64_t seed, const LogCallback& log_callback) {
    FloatArray vecs = training_vectors(vecs_in, index.n_subspaces());
    IVFPQTrainingOptions options;
    options.iterations = iterations;
    options.coarse_iterations = coarse_iterations;
    options.seed = seed;
    options.log = logger_of(log_callback);
    py::gil_scoped_release release;
    index.train(vecs.data(), vecs.shape(0), vecs.shape(1), options);
}

FloatArray ivfpq_rows(const IVFPQ& index, const py::array& vecs_in, const char* name) {
    FloatArray vecs = as_float32(vecs_in, name);
    if (vecs.ndim() != 2 || static_cast<std::size_t>(vecs.shape(1)) != index.dim())
        throw std::invalid_argument(std::string(name) + " must have shape (N, D=" + std::to_string(index.dim()) + ")");
    return vecs;
}

void ivfpq_add(IVFPQ& index, const py::array& vecs_in, const OptionalArray& ids_in, const LogCallback& log_callback) {
    if (!index.is_trained()) throw std::logic_error("the index must be trained (fit) before add");
    FloatArray vecs = ivfpq_rows(index, vecs_in, "vecs");
    const std::size_t n = vecs.shape(0);
    const std::int64_t* ids = ids_in.is_none() ? nullptr : index_ids(ids_in.cast<py::array>(), "ids", n);
    const Logger log = logger_of(log_callback);
    py::gil_scoped_release release;
    index.add(vecs.data(), n, ids, log);
}

void ivfpq_add_encoded(IVFPQ& index, const py::array& lists_in, const py::array& codes_in,
                       const OptionalArray& ids_in) {
    const std::int64_t* lists = index_ids(lists_in, "lists", SIZE_MAX);
    const std::size_t n = lists_in.shape(0);
    if (codes_in.ndim() != 2 || static_cast<std::size_t>(codes_in.shape(0)) != n ||
        static_cast<std::size_t>(codes_in.shape(1)) != index.n_subspaces())
        throw std::invalid_argument("codes must have shape (N=" + std::to_string(n) +
                                    ", M=" + std::to_string(index.n_subspaces()) + ")");
    Codes codes(n, index.n_subspaces(), index.pq().code_bytes());
    dispatch_codes(codes_in, [&](const auto* data) {
        using code_t = std::remove_const_t<std::remove_pointer_t<decltype(data)>>;
        if (sizeof(code_t) != codes.code_bytes())
            throw std::invalid_argument("codes must have dtype " +
                                        py::str(code_dtype_for(index.n_codewords())).cast<std::string>() +
                                        " for Ks = " + std::to_string(index.n_codewords()));
        codes.visit([&](auto* out) { std::copy_n(data, codes.size(), out); });
    });
    std::vector<std::uint32_t> labels(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (lists[i] < 0 || static_cast<std::uint64_t>(lists[i]) >= index.n_lists())
            throw std::out_of_range("lists[" + std::to_string(i) + "] = " + std::to_string(lists[i]) +
                                    " is not a list (0 to nlist - 1 = " + std::to_string(index.n_lists() - 1) + ")");
        labels[i] = static_cast<std::uint32_t>(lists[i]);
    }
    const std::int64_t* ids = ids_in.is_none() ? nullptr : index_ids(ids_in.cast<py::array>(), "ids", n);
    py::gil_scoped_release release;
    index.add_encoded(labels.data(), codes, ids);
}

void ivfpq_remove(IVFPQ& index, const py::array& ids_in) {
    const std::int64_t* ids = index_ids(ids_in, "ids", SIZE_MAX);
    const std::size_t n = ids_in.shape(0);
    py::gil_scoped_release release;
    index.remove(ids, n);
}

TopKArrays ivfpq_search(const IVFPQ& index, const py::array& queries_in, std::size_t topk, std::size_t nprobe,
                        const OptionalArray& subset_in) {
    if (!index.is_trained()) throw std::logic_error("the index must be trained (fit) before search");
    FloatArray queries = ivfpq_rows(index, queries_in, "queries");
    const auto [subset, n_subset] = optional_ids(subset_in, "subset");
    SearchResult result;
    {
        py::gil_scoped_release release;
        result = index.search(queries.data(), queries.shape(0), topk, nprobe, subset, n_subset);
    }
    return top_k_arrays(result);
}

py::array ivfpq_list_codes(const IVFPQ& index, std::size_t list) {
    const Codes codes = index.list_codes(list);
    return codes.visit([&](const auto* data) {
        using code_t = std::remove_const_t<std::remove_pointer_t<decltype(data)>>;
        py::array_t<code_t> out({codes.rows(), codes.n_subspaces()});
        std::copy_n(data, codes.size(), out.mutable_data());
        return py::array(out);
    });
}

py::bytes ivfpq_bytes(const IVFPQ& index) {
    std::vector<unsigned char> bytes;
    {
        py::gil_scoped_release release;
        bytes = ivfpq_to_bytes(index);
    }
    return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

IVFPQ ivfpq_parse(const py::bytes& data, const std::string& source) {
    const std::string_view view = data;
    py::gil_scoped_release release;
    return ivfpq_from_bytes(view.data(), view.size(), source);
}

void ivfpq_save(const IVFPQ& index, const std::string& path) {
    py::gil_scoped_release release;
    save_ivfpq(index, path);
}

IVFPQ ivfpq_load(const std::string& path) {
    py::gil_scoped_release release;
    return load_ivfpq(path);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "nanopq_cpp's compiled core; use the nanopq_cpp package, not this module.";
    m.attr("__version__") = NANOPQ_CPP_VERSION_STRING;
    m.def("train_codewords", &train_codewords_py, py::arg("vecs"), py::arg("M"), py::arg("Ks"), py::arg("iterations"),
          py::arg("seed"), py::arg("minit"), py::arg("initial") = py::none(), py::arg("log") = py::none());
    m.def("encode", &encode_py, py::arg("vecs"), py::arg("codewords"), py::arg("log") = py::none());
    m.def("decode", &decode_py, py::arg("codes"), py::arg("codewords"));
    m.def("distance_tables", &distance_tables_py, py::arg("queries"), py::arg("codewords"), py::arg("metric"));
    m.def("adist", &adist_py, py::arg("dtables"), py::arg("codes"));
    m.def("search", &search_py, py::arg("dtables"), py::arg("codes"), py::arg("topk"), py::arg("metric"),
          py::arg("subset") = py::none());
    m.def("merge_topk", &merge_topk_py, py::arg("ids"), py::arg("distances"), py::arg("topk"), py::arg("metric"));
    py::class_<PackedCodes>(m, "PackedCodes")
        .def(py::init(&packed_from_bytes), py::arg("data"), py::arg("N"), py::arg("M"), py::arg("Ks"))
        .def_static("pack", &pack_py, py::arg("codes"), py::arg("Ks"))
        .def_property_readonly("N", &PackedCodes::rows)
        .def_property_readonly("M", &PackedCodes::n_subspaces)
        .def_property_readonly("Ks", &PackedCodes::n_codewords)
        .def_property_readonly("nbytes", &PackedCodes::nbytes)
        .def_property_readonly("data", &packed_data_view)
        .def("unpack", &unpack_py);
    m.def("adist_packed", &adist_packed_py, py::arg("dtables"), py::arg("packed"));
    m.def("search_packed", &search_packed_py, py::arg("dtables"), py::arg("packed"), py::arg("topk"), py::arg("metric"),
          py::arg("subset") = py::none());
    m.def("fast_scan_paths", &fast_scan_paths_py);
    m.def("parametric_rotation", &parametric_rotation_py, py::arg("vecs"), py::arg("M"));
    m.def("train_opq", &train_opq_py, py::arg("vecs"), py::arg("M"), py::arg("Ks"), py::arg("pq_iterations"),
          py::arg("rotation_iterations"), py::arg("parametric_init"), py::arg("seed"), py::arg("minit"),
          py::arg("initial") = py::none(), py::arg("log") = py::none());
    // A model file's I/O failures become OSError (FileNotFoundError, ...) with
    // their errno, as Python's own open() raises; format problems ModelFileError.
    py::register_exception<ModelFileError>(m, "ModelFileError", PyExc_ValueError);
    py::register_exception_translator([](std::exception_ptr thrown) {  // tried before the one above
        try {
            if (thrown) std::rethrow_exception(thrown);
        } catch (const ModelFileError& error) {
            if (error.system_error() == 0) throw;
            py::object os_error = py::reinterpret_borrow<py::object>(PyExc_OSError);
            PyErr_SetObject(PyExc_OSError, os_error(error.system_error(), error.what()).ptr());
        }
    });
    m.def("model_to_bytes", &model_to_bytes_py, py::arg("metric"), py::arg("codewords"), py::arg("R") = py::none());
    m.def("model_from_bytes", &model_from_bytes_py, py::arg("data"), py::arg("source"));
    m.def("load_model_file", &load_model_file_py, py::arg("path"));
    m.def("save_model_file", &save_model_file_py, py::arg("path"), py::arg("metric"), py::arg("codewords"),
          py::arg("R") = py::none());
    m.def(
        "read_model_header", [](const std::string& path) { return header_tuple(read_model_header(path)); },
        py::arg("path"));
    m.def("get_simd_level", [] { return std::string(simd_level_name(get_simd_level())); });
    m.def(
        "set_simd_level", [](const std::string& name) { set_simd_level(simd_level_from_name(name)); },
        py::arg("level"));
    m.def("best_simd_level", [] { return std::string(simd_level_name(best_simd_level())); });
    m.def("supported_simd_levels", [] {
        std::vector<std::string> names;
        for (SimdLevel level : nanopq_cpp::supported_simd_levels()) names.emplace_back(simd_level_name(level));
        return names;
    });
    py::class_<Rii>(m, "Rii")
        .def(py::init(&rii_new), py::arg("codewords"), py::arg("metric"))
        .def_static("restore", &rii_restore, py::arg("codewords"), py::arg("metric"), py::arg("codes"), py::arg("ids"),
                    py::arg("centers"), py::arg("row_lists"))
        .def("add", &rii_add, py::arg("codes"), py::arg("ids") = py::none(), py::arg("update_lists") = false)
        .def("reconfigure", &rii_reconfigure, py::arg("nlist"), py::arg("iterations"), py::arg("seed"),
             py::arg("log") = py::none())
        .def("remove", &rii_remove, py::arg("ids"))
        .def("clear", &Rii::clear)
        .def("search", &rii_search, py::arg("queries"), py::arg("dtables"), py::arg("topk"), py::arg("L"),
             py::arg("target_ids") = py::none(), py::arg("method") = "ivf")
        .def_property_readonly("N", &Rii::size)
        .def_property_readonly("nlist", &Rii::n_lists)
        .def_property_readonly("M", &Rii::n_subspaces)
        .def_property_readonly("Ks", &Rii::n_codewords)
        .def_property_readonly("next_id", &Rii::next_id)
        .def_property_readonly("metric", [](const Rii& index) { return std::string(metric_name(index.metric())); })
        .def_property_readonly(
            "codes", [](const Rii& index) { return array_of(index.codes(), index.size(), index.n_subspaces()); })
        .def_property_readonly(
            "centers", [](const Rii& index) { return array_of(index.centers(), index.n_lists(), index.n_subspaces()); })
        .def_property_readonly(
            "ids", [](const Rii& index) { return array_of(index.ids(), index.size(), 1).reshape({index.size()}); })
        .def_property_readonly(
            "row_lists",
            [](const Rii& index) { return array_of(index.row_lists(), index.size(), 1).reshape({index.size()}); })
        .def("posting_lists", [](const Rii& index) {
            std::vector<std::vector<std::int64_t>> lists(index.n_lists());
            for (std::size_t l = 0; l < lists.size(); ++l) lists[l] = index.list_ids(l);
            return lists;
        });
    py::class_<IVFPQ>(m, "IVFPQ")
        .def(py::init([](std::size_t M, std::size_t Ks, std::size_t nlist, const std::string& metric,
                         bool by_residual) { return IVFPQ(M, Ks, nlist, metric_from_name(metric), by_residual); }),
             py::arg("M"), py::arg("Ks"), py::arg("nlist"), py::arg("metric"), py::arg("by_residual"))
        .def_static("from_parts", &ivfpq_from_parts, py::arg("codewords"), py::arg("metric"),
                    py::arg("coarse_centroids"), py::arg("by_residual"))
        .def_static("from_bytes", &ivfpq_parse, py::arg("data"), py::arg("source"))
        .def_static("load", &ivfpq_load, py::arg("path"))
        .def("to_bytes", &ivfpq_bytes)
        .def("save", &ivfpq_save, py::arg("path"))
        .def("train", &ivfpq_train, py::arg("vecs"), py::arg("iterations"), py::arg("coarse_iterations"),
             py::arg("seed"), py::arg("log") = py::none())
        .def("add", &ivfpq_add, py::arg("vecs"), py::arg("ids") = py::none(), py::arg("log") = py::none())
        .def("add_encoded", &ivfpq_add_encoded, py::arg("lists"), py::arg("codes"), py::arg("ids") = py::none())
        .def("remove", &ivfpq_remove, py::arg("ids"))
        .def("clear", &IVFPQ::clear)
        .def("search", &ivfpq_search, py::arg("queries"), py::arg("topk"), py::arg("nprobe"),
             py::arg("subset") = py::none())
        .def("set_num_threads", &IVFPQ::set_num_threads, py::arg("n"))
        .def_property_readonly("N", &IVFPQ::size)
        .def_property_readonly("M", &IVFPQ::n_subspaces)
        .def_property_readonly("Ks", &IVFPQ::n_codewords)
        .def_property_readonly("nlist", &IVFPQ::n_lists)
        .def_property_readonly("D", &IVFPQ::dim)
        .def_property_readonly("by_residual", &IVFPQ::by_residual)
        .def_property_readonly("is_trained", &IVFPQ::is_trained)
        .def_property_readonly("next_id", &IVFPQ::next_id)
        .def_property_readonly("metric", [](const IVFPQ& index) { return std::string(metric_name(index.metric())); })
        .def_property_readonly("codewords",
                               [](const IVFPQ& index) {
                                   const ProductQuantizer& pq = index.pq();
                                   FloatArray out({pq.n_subspaces(), pq.n_codewords(), pq.subspace_dim()});
                                   std::copy(pq.codewords().begin(), pq.codewords().end(), out.mutable_data());
                                   return out;
                               })
        .def_property_readonly(
            "centroids", [](const IVFPQ& index) { return array_of(index.centroids(), index.n_lists(), index.dim()); })
        .def_property_readonly("list_sizes",
                               [](const IVFPQ& index) {
                                   Int64Array sizes(static_cast<py::ssize_t>(index.n_lists()));
                                   for (std::size_t l = 0; l < index.n_lists(); ++l)
                                       sizes.mutable_at(l) = static_cast<std::int64_t>(index.list_size(l));
                                   return sizes;
                               })
        .def(
            "list_ids",
            [](const IVFPQ& index, std::size_t list) {
                const std::vector<std::int64_t>& ids = index.list_ids(list);
                return array_of(ids, ids.size(), 1).reshape({ids.size()});
            },
            py::arg("list"))
        .def("list_codes", &ivfpq_list_codes, py::arg("list"));
    m.def("save_index_file", &save_index_py, py::arg("path"), py::arg("index"), py::arg("model"));
    m.def("load_index_file", &load_index_py, py::arg("path"));
    m.def("get_num_threads", &get_num_threads);
    m.def("set_num_threads", &set_num_threads, py::arg("n"));
}
