# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
BUILD_DIR ?= build
ASAN_DIR  ?= build-asan
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")

.PHONY: all deps configure build demo test test-sanitize mutants mutants-net bench format clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DGRAPE_WERROR=ON

configure: $(BUILD_DIR)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Three real nodes on this machine through a kill -9 of the leader, told in words; nothing is
# left running (`grape demo --simulated` is the simulated tour).
demo: build
	$(BUILD_DIR)/grape demo

# Every test: unit, property (RapidCheck) and simulator tests.
test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

# Unit and property tests once more under AddressSanitizer and UBSan.
test-sanitize: deps
	cmake -S . -B $(ASAN_DIR) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=Debug -DGRAPE_WERROR=ON \
	  -DGRAPE_SANITIZE=ON -DGRAPE_BUILD_BENCH=OFF -DGRAPE_PROPERTY_CASES=300
	cmake --build $(ASAN_DIR) -j $(JOBS) --target grape_unit_tests grape_property_tests
	ctest --test-dir $(ASAN_DIR) --output-on-failure -j $(JOBS) -L 'unit|property'

# Planted bugs (tests/mutants/*.patch), each built in a scratch copy and run through the
# simulator alone; exits 0 only if every one is caught. `make mutants MUTANTS="01 07"` runs some;
# MUTANT_ARGS passes options (tests/mutants/run.sh --help gives the budget).
MUTANTS ?=
MUTANT_ARGS ?=
mutants: deps
	tests/mutants/run.sh --build-jobs $(JOBS) $(MUTANT_ARGS) $(MUTANTS)

# Planted bugs in net/ (tests/mutants/net/), which the simulator never runs: the integration
# tests on real processes must catch each one.
mutants-net: deps
	tests/mutants/run_net.sh --build-jobs $(JOBS) $(MUTANTS)

bench: build
	$(BUILD_DIR)/bench/grape_bench

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) build-mutants build-mutants-net
