# kmm: the Linux memory manager as a userspace C library.
#
#   make          build (build/)
#   make demo     build and run the main job on the default machine
#   make test     build and run every test (CTest)
#   make bench    build with optimisation and no debug checks, run the benchmarks
#   make install  install the library, headers, pkg-config and CMake files (PREFIX=...)
#   make asan     the ASan+UBSan build and its tests (build-asan/)
#   make tsan     the TSan build and the concurrent tests (build-tsan/)
#   make format   clang-format every source file

PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE ?= cmake
CMAKE_FLAGS ?=

.PHONY: all build demo test bench install asan tsan format clean check-tools

all: build

check-tools:
	@command -v $(CMAKE) >/dev/null || { echo "kmm: cmake is missing; install it (Debian: apt-get install cmake)"; exit 1; }
	@command -v $(CC) >/dev/null || command -v cc >/dev/null || { echo "kmm: no C compiler; install gcc (Debian: apt-get install gcc)"; exit 1; }

build/CMakeCache.txt: | check-tools
	$(CMAKE) -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKMM_DEBUG=1 $(CMAKE_FLAGS)

build: build/CMakeCache.txt
	$(CMAKE) --build build -j $(JOBS)

demo: build
	./tools/demo.sh build

test: build
	cd build && ctest --output-on-failure -j $(JOBS)

build-bench/CMakeCache.txt: | check-tools
	$(CMAKE) -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DKMM_DEBUG=0 -DKMM_BUILD_TESTS=OFF $(CMAKE_FLAGS)

bench: build-bench/CMakeCache.txt
	$(CMAKE) --build build-bench -j $(JOBS)
	./bench/run.sh build-bench

install: build
	$(CMAKE) --install build --prefix $(PREFIX)

build-asan/CMakeCache.txt: | check-tools
	$(CMAKE) -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKMM_DEBUG=2 -DKMM_SANITIZE=address -DKMM_BUILD_BENCH=OFF $(CMAKE_FLAGS)

asan: build-asan/CMakeCache.txt
	$(CMAKE) --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)

build-tsan/CMakeCache.txt: | check-tools
	$(CMAKE) -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKMM_DEBUG=1 -DKMM_SANITIZE=thread -DKMM_BUILD_BENCH=OFF $(CMAKE_FLAGS)

tsan: build-tsan/CMakeCache.txt
	$(CMAKE) --build build-tsan -j $(JOBS)
	cd build-tsan && ctest --output-on-failure -L concurrent -j $(JOBS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-bench build-asan build-tsan
