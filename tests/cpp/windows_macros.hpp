#pragma once
// What <windows.h> defines, as a Windows program that includes it before our
// headers (without NOMINMAX or WIN32_LEAN_AND_MEAN) sees it: function-like
// min and max, and object-like macros over common words. Included by
// test_windows_macros.cpp before our headers, so every public header is
// compiled under them on every platform.
//
// The standard headers come first, as on Windows: MSVC's are written to
// survive these macros (`(std::min)(a, b)`), libstdc++'s are not, and the
// point is to test ours.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif
#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

#ifdef _WIN32
// The real thing; mingw-w64's leaves out min and max in C++, MSVC's has them.
#include <windows.h>
#ifndef min
#define min(a, b) (((a) < (b)) ? (a) : (b))
#define max(a, b) (((a) > (b)) ? (a) : (b))
#endif
#else
#define min(a, b) (((a) < (b)) ? (a) : (b))
#define max(a, b) (((a) > (b)) ? (a) : (b))
#define far
#define near
#define small char
#define interface struct
#define hyper __int64
#define ERROR 0
#define IN
#define OUT
#define OPTIONAL
#define CONST const
#define VOID void
#define DELETE (0x00010000L)
#define IGNORE 0
#define TRUE 1
#define FALSE 0
#define NO_ERROR 0L
#define CALLBACK
#define WINAPI
#define PASCAL
#define cdecl
#define pascal
#define boolean unsigned char
#define DOMAIN 1
#define OVERFLOW 3
#define UNDERFLOW 4
#endif
