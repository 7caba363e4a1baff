#pragma once
// A small fork-join helper. We spawn std::threads per call instead of using
// OpenMP so that the headers impose no runtime on native users and wheels carry
// no libgomp; the calls that use it are long enough (milliseconds and up) that
// thread start-up does not matter. Work is split into tasks whose boundaries do
// not depend on the thread count, so results are identical for any count.

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace nanopq_cpp::impl {

// The most threads a call starts, whether asked for by set_num_threads, per
// call or through the environment: more only costs memory and start-up.
inline constexpr int kMaxThreads = 4096;

// A thread count from an environment variable's text: a positive integer,
// optionally surrounded by blanks, capped at kMaxThreads; 0 for anything else
// ("4x", "", "-2", "2.5"). For OMP_NUM_THREADS, whose value may list a count
// per nesting level ("4,2"), the first one counts.
inline int parse_thread_count(const char* text, bool first_of_list) {
    const char* at = text;
    while (*at == ' ' || *at == '\t') ++at;
    long long count = 0;
    const char* digits = at;
    for (; *at >= '0' && *at <= '9'; ++at) count = (std::min)(count * 10 + (*at - '0'), 1LL << 40);
    if (at == digits) return 0;
    while (*at == ' ' || *at == '\t') ++at;
    if (*at != '\0' && !(first_of_list && *at == ',')) return 0;
    return count <= 0 ? 0 : static_cast<int>((std::min<long long>)(count, kMaxThreads));
}

inline int default_num_threads() {
    // NANOPQ_CPP_NUM_THREADS wins; OMP_NUM_THREADS is honoured because users
    // already set it to tame numeric libraries.
    if (const char* value = std::getenv("NANOPQ_CPP_NUM_THREADS"))
        if (const int count = parse_thread_count(value, false)) return count;
    if (const char* value = std::getenv("OMP_NUM_THREADS"))
        if (const int count = parse_thread_count(value, true)) return count;
    const unsigned hardware = std::thread::hardware_concurrency();
    return hardware == 0 ? 1 : static_cast<int>((std::min)(hardware, static_cast<unsigned>(kMaxThreads)));
}

inline std::atomic<int>& num_threads_setting() {
    static std::atomic<int> setting{default_num_threads()};
    return setting;
}

// Threads used by long calls when the caller does not say otherwise.
inline int get_num_threads() { return num_threads_setting().load(); }

// n > 0 sets the count; n == 0 restores the default (environment or all cores).
inline void set_num_threads(int n) {
    if (n < 0 || n > kMaxThreads)
        throw std::invalid_argument("num_threads must be in [0, " + std::to_string(kMaxThreads) + "], got " +
                                    std::to_string(n) + " (0 means the default)");
    num_threads_setting().store(n == 0 ? default_num_threads() : n);
}

// Resolves a per-call request: 0 or less means the global setting.
inline int resolve_num_threads(int requested) {
    return requested > 0 ? (std::min)(requested, kMaxThreads) : get_num_threads();
}

// Threads worth starting for `work` units when each thread should get at least
// `min_work_per_thread`: starting a thread costs tens of microseconds, and far
// more on a busy machine, so small calls run on fewer threads (results do not
// depend on the count either way).
inline int threads_for(std::size_t work, std::size_t min_work_per_thread, int requested) {
    const std::size_t useful = min_work_per_thread == 0 ? work : work / min_work_per_thread;
    const std::size_t limit = static_cast<std::size_t>(resolve_num_threads(requested));
    return static_cast<int>(std::max<std::size_t>(1, (std::min)(useful, limit)));
}

// Runs task(i) for i in [0, n_tasks) on up to `num_threads` threads, the calling
// thread included. Tasks are handed out dynamically; callers make each task's
// result independent of which thread runs it. The first exception thrown by a
// task is rethrown here after all threads have joined.
template <class Task>
void parallel_for(std::size_t n_tasks, int num_threads, Task&& task) {
    if (n_tasks == 0) return;
    std::size_t workers = std::min<std::size_t>(n_tasks, static_cast<std::size_t>((std::max)(1, num_threads)));
    if (workers == 1) {
        for (std::size_t i = 0; i < n_tasks; ++i) task(i);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr first_error;
    std::mutex error_mutex;
    auto run = [&]() {
        for (;;) {
            std::size_t i = next.fetch_add(1);
            if (i >= n_tasks || failed.load()) return;
            try {
                task(i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mutex);
                if (!first_error) first_error = std::current_exception();
                failed.store(true);
            }
        }
    };
    std::vector<std::thread> threads;
    threads.reserve(workers - 1);
    // If the system refuses a thread (many concurrent callers, a thread
    // limit), go on with those started: tasks are handed out dynamically, so
    // fewer threads give the same result. Letting std::system_error escape
    // would destroy joinable std::threads, which calls std::terminate.
    for (std::size_t t = 0; t + 1 < workers; ++t) {
        try {
            threads.emplace_back(run);
        } catch (const std::system_error&) {
            break;
        }
    }
    run();
    for (auto& thread : threads) thread.join();
    if (first_error) std::rethrow_exception(first_error);
}

}  // namespace nanopq_cpp::impl
