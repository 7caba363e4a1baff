// Serving a model trained in Python from C++.
//
// In Python:
//     pq = nanopq_cpp.PQ(M=8).fit(train)
//     pq.save("model.npq")
//     base.astype(np.float32).tofile("base.f32")     # raw float32, row-major
//
// Here:
//     nanopq_cpp_example info   model.npq
//     nanopq_cpp_example encode model.npq base.f32                 # one line of M codes per vector
//     nanopq_cpp_example search model.npq base.f32 queries.f32 10  # top-10 ids and distances per query
//     nanopq_cpp_example train  pq|opq train.f32 DIM M KS out.npq   # train here, load in Python
//
// The codes, ids and distances printed are those Python's pq.encode and
// pq.search give for the same model and vectors.

#include <nanopq_cpp/nanopq_cpp.hpp>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace {

// A raw float32 file (numpy's tofile) of vectors of `dim` floats. Assumes a
// little-endian host, as numpy's float32 default is native order.
std::vector<float> read_vectors(const std::string& path, std::size_t dim) {
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    if (!file) throw std::runtime_error("cannot open " + path);
    const std::streamoff bytes = file.tellg();
    const std::size_t row_bytes = dim * sizeof(float);
    if (bytes < 0 || static_cast<std::size_t>(bytes) % row_bytes != 0)
        throw std::runtime_error(path + " does not hold whole vectors of " + std::to_string(dim) + " float32");
    std::vector<float> vectors(static_cast<std::size_t>(bytes) / sizeof(float));
    file.seekg(0);
    file.read(reinterpret_cast<char*>(vectors.data()), bytes);
    if (!file) throw std::runtime_error("cannot read " + path);
    return vectors;
}

std::size_t parse_size(const std::string& text, const char* name) {
    std::size_t used = 0;
    const unsigned long long value = std::stoull(text, &used);
    if (used != text.size() || value == 0)
        throw std::invalid_argument(std::string(name) + " must be a positive integer");
    return static_cast<std::size_t>(value);
}

// PQ and OPQ offer the same calls, so one template serves a model of either kind.
template <class Quantizer>
void print_info(const Quantizer& quantizer, const char* kind) {
    std::cout << "kind=" << kind << " M=" << quantizer.n_subspaces() << " Ks=" << quantizer.n_codewords()
              << " Ds=" << quantizer.subspace_dim() << " metric=" << nanopq_cpp::metric_name(quantizer.metric())
              << " code_bytes=" << quantizer.code_bytes() << " nanopq_cpp=" << NANOPQ_CPP_VERSION_STRING << "\n";
}

template <class Quantizer>
void print_codes(const Quantizer& quantizer, const std::string& vectors_path) {
    const std::vector<float> vectors = read_vectors(vectors_path, quantizer.dim());
    const nanopq_cpp::Codes codes = quantizer.encode(vectors.data(), vectors.size() / quantizer.dim());
    for (std::size_t row = 0; row < codes.rows(); ++row) {
        for (std::size_t m = 0; m < codes.n_subspaces(); ++m) std::cout << (m ? " " : "") << codes.at(row, m);
        std::cout << "\n";
    }
}

template <class Quantizer>
void print_search(const Quantizer& quantizer, const std::string& base_path, const std::string& queries_path,
                  std::size_t k) {
    const std::size_t dim = quantizer.dim();
    const std::vector<float> base = read_vectors(base_path, dim);
    const std::vector<float> queries = read_vectors(queries_path, dim);
    const nanopq_cpp::Codes codes = quantizer.encode(base.data(), base.size() / dim);
    const nanopq_cpp::SearchResult top = quantizer.search(queries.data(), queries.size() / dim, codes, k);
    std::cout.precision(9);  // enough digits for a float to read back exactly
    for (std::size_t q = 0; q < top.n_queries; ++q) {
        std::cout << "ids " << q;
        for (std::size_t j = 0; j < top.k; ++j) std::cout << " " << top.ids[q * top.k + j];
        std::cout << "\ndistances " << q;
        for (std::size_t j = 0; j < top.k; ++j) std::cout << " " << top.distances[q * top.k + j];
        std::cout << "\n";
    }
}

void train(const std::string& kind, const std::string& vectors_path, std::size_t dim, std::size_t n_subspaces,
           std::size_t n_codewords, const std::string& model_path) {
    const std::vector<float> vectors = read_vectors(vectors_path, dim);
    const std::size_t n = vectors.size() / dim;
    if (kind == "pq") {
        nanopq_cpp::ProductQuantizer pq(n_subspaces, n_codewords);
        pq.fit(vectors.data(), n, dim);  // nanopq's defaults: 20 iterations, seed 123
        nanopq_cpp::save_model(pq, model_path);
    } else if (kind == "opq") {
        nanopq_cpp::OptimizedProductQuantizer opq(n_subspaces, n_codewords);
        opq.fit(vectors.data(), n, dim);
        nanopq_cpp::save_model(opq, model_path);
    } else {
        throw std::invalid_argument("train takes pq or opq, got " + kind);
    }
}

int usage() {
    std::cerr << "usage: nanopq_cpp_example info MODEL\n"
                 "       nanopq_cpp_example encode MODEL VECTORS.f32\n"
                 "       nanopq_cpp_example search MODEL BASE.f32 QUERIES.f32 TOPK\n"
                 "       nanopq_cpp_example train pq|opq VECTORS.f32 DIM M KS OUT_MODEL\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) return usage();
    const std::string& command = args[0];
    try {
        if (command == "train" && args.size() == 7) {
            train(args[1], args[2], parse_size(args[3], "DIM"), parse_size(args[4], "M"), parse_size(args[5], "KS"),
                  args[6]);
            return 0;
        }
        const bool known = (command == "info" && args.size() == 2) || (command == "encode" && args.size() == 3) ||
                           (command == "search" && args.size() == 5);
        if (!known) return usage();
        // load_model returns whichever quantizer the file holds; std::visit
        // runs the same code for a PQ and an OPQ.
        const nanopq_cpp::AnyQuantizer model = nanopq_cpp::load_model(args[1]);
        std::visit(
            [&](const auto& quantizer) {
                using Quantizer = std::decay_t<decltype(quantizer)>;
                const char* kind = std::is_same<Quantizer, nanopq_cpp::ProductQuantizer>::value ? "PQ" : "OPQ";
                if (command == "info") print_info(quantizer, kind);
                if (command == "encode") print_codes(quantizer, args[2]);
                if (command == "search") print_search(quantizer, args[2], args[3], parse_size(args[4], "TOPK"));
            },
            model);
        return 0;
    } catch (const nanopq_cpp::ModelFileError& error) {
        std::cerr << "model file error: " << error.what() << "\n";
        return 3;
    } catch (const std::exception& error) {
        std::cerr << "error: " << error.what() << "\n";
        return 1;
    }
}
