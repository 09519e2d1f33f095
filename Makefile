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

# A generated match clip (synth, with ground truth) through `batch`, scored
# by `eval`: out/demo.mp4 is the virtual-camera video with the overlay.
DEMO_SECONDS ?= 10
# Only the program is built (not the test executables), to keep the first run short.
demo: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target football-tracker
	mkdir -p out
	$(BUILD)/football-tracker synth --out out/demo-input.mp4 --truth out/demo-truth.csv \
		--seconds $(DEMO_SECONDS) --scenario wide
	$(BUILD)/football-tracker batch --input out/demo-input.mp4 --output out/demo.mp4 \
		--track-out out/demo-track.csv --set stream.show_stats=true --debug
	$(BUILD)/football-tracker eval --track out/demo-track.csv --truth out/demo-truth.csv \
		--json out/demo-eval.json
	@echo "demo: wrote out/demo.mp4 and out/demo.debug.mp4 (input out/demo-input.mp4, track out/demo-track.csv, scores out/demo-eval.json)"

# Every benchmark listed by `football-tracker bench --help`, or only those in
# BENCH (e.g. `make bench BENCH="track pipeline"`).
BENCH ?= $(shell $(BUILD)/football-tracker bench --help 2>/dev/null | \
	awk '/^benchmarks:/ {f = 1; next} f && /^  / {print $$1} f && /^$$/ {f = 0}')
# The RF-DETR benchmarks (rfdetr, rfdetr-cuda, and infer-share, whose server
# loads one) need a checkpoint, MODEL (e.g. `make bench MODEL=checkpoint.pth`),
# and rfdetr-cuda a GPU; without them they are skipped with a note instead of
# failing the target.
MODEL ?=
bench: build
	@for b in $(BENCH); do \
		args=""; \
		case $$b in rfdetr*|infer-share) \
			if [ -z "$(MODEL)" ]; then echo "== skipped bench $$b: give MODEL=checkpoint.pth"; continue; fi; \
			args="--model $(MODEL)";; \
		esac; \
		if [ "$$b" = rfdetr-cuda ] && ! nvidia-smi -L >/dev/null 2>&1; then \
			echo "== skipped bench $$b: no GPU"; continue; fi; \
		echo "== football-tracker bench $$b $$args"; \
		$(BUILD)/football-tracker bench $$b $$args || exit 1; \
	done

# The evaluation suite (eval/suite.yml): fixed synthetic matches through synth,
# batch and eval, printed as one table; fails when a regression threshold does.
eval: build
	$(BUILD)/football-tracker eval --suite eval/suite.yml --workdir $(BUILD)/eval

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DFT_SANITIZE=ON -DFT_CUDA=OFF"

clean:
	rm -rf $(BUILD) build-asan
