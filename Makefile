# Entry points: `make test`, `make demo`, `make bench`, `make eval`.
# Each installs the system packages it needs first (scripts/install-deps.sh).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build test demo bench eval clean asan

all: build

deps:
	sh scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Every benchmark listed by `football-tracker bench --help`, or only those in
# BENCH (e.g. `make bench BENCH="track pipeline"`).
BENCH ?= $(shell $(BUILD)/football-tracker bench --help 2>/dev/null | \
	awk '/^benchmarks:/ {f = 1; next} f && /^  / {print $$1} f && /^$$/ {f = 0}')
bench: build
	@for b in $(BENCH); do \
		echo "== football-tracker bench $$b"; \
		$(BUILD)/football-tracker bench $$b || exit 1; \
	done

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DFT_SANITIZE=ON -DFT_CUDA=OFF"

clean:
	rm -rf $(BUILD) build-asan
