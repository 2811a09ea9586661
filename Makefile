# fenix: the two commands a new user needs.
#   make run            install what is missing, build, start the chat app
#   make run APP=timer  the timer app instead (APP=pointing: the pointing party)
#   make test           install, build and run every test
#   make test-sanitize  the same tests under ASan + UBSan (build-asan/)
#   make bench          the benchmark suite (writes BENCHMARKS.md sections)
#   make docs           the API reference (doxygen; installed on first use)
#   make fuzz           libFuzzer harnesses, FUZZ_SECONDS (60) each (build-fuzz/)

APP ?= chat
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 60

.PHONY: deps build run test test-unit test-js test-sanitize fuzz bench clean format docs

deps:
	@bash scripts/install-deps.sh

build: deps
	@bash scripts/build.sh $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

run: build
	@echo "starting fenix-$(APP) (Ctrl-C to stop)"
	@cd $(BUILD) && exec ./bin/fenix-$(APP)

test: build
	@bash scripts/test.sh $(BUILD)

test-sanitize: deps
	@bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFENIX_SANITIZE=ON
	@FENIX_SANITIZE=1 bash scripts/test.sh build-asan

fuzz:
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

bench: build
	@bash bench/run.sh $(BUILD)

docs:
	@command -v doxygen >/dev/null || FENIX_DOCS=1 bash scripts/install-deps.sh
	@cd docs && doxygen Doxyfile

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build build-asan
