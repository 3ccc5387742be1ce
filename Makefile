# galaxy — Galaxy Zoo CNN in GLSL compute shaders on Vulkan.
## What building and running galaxy needs (make build, make demo): Vulkan's loader and headers, glslang for the
## shaders, libjpeg-turbo, libpng (catalog's PNG input), lavapipe (mesa-vulkan-drivers) for machines without a GPU.
## Open MPI is not among them: galaxy loads it at run time under `mpirun` (docs/guide-long-runs.md).
BUILD_PACKAGES := libvulkan-dev glslang-tools libturbojpeg0-dev libpng-dev mesa-vulkan-drivers
## What make test adds: the validation layers; Open MPI's mpirun and library for the MPI tests; python3 for the formats venv and the GPU kit's report; binutils for the
## kit's stripped binary; chromium-common for its SwiftShader Vulkan driver (/usr/lib/chromium/vk_swiftshader_icd.json,
## not registered with the loader), the second driver `make test` runs on.
TEST_PACKAGES := vulkan-validationlayers openmpi-bin python3 python3-venv binutils chromium-common
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
GALAXY := .build/release/galaxy
DEMO_DIR ?= demo-data
RUN_DIR ?= runs/demo

.PHONY: all build deps deps-build test test-passes test-build test-processes test-inprocess test-lanes test-discrete test-swiftshader formats-venv browser demo bench bench-peer gpu-kit clean

all: build

## Install the Debian packages that are missing (no-op when all are present): deps-build those of the build, deps all.
install-missing = @missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
deps-build:
	$(call install-missing,$(BUILD_PACKAGES))
deps:
	$(call install-missing,$(BUILD_PACKAGES) $(TEST_PACKAGES))

## `make build` (and `make demo`) build galaxy as a user gets it. The tests need GalaxyKit built with -enable-testing
## (internal symbols visible to `@testable import`), which cost `make demo` about 14 s of its build
## (docs/performance.md), so `make test` builds with that flag: after `make demo` it compiles the package again.
SWIFT_BUILD := swift build -c release
TEST_SWIFT_BUILD := swift build -c release -Xswiftc -enable-testing
build: deps-build
	$(SWIFT_BUILD)

## The whole test suite on the default Vulkan device (lavapipe here) with validation layers on, synchronization
## validation included (it checks that CommandSequence puts a barrier between every pair of dependent dispatches).
## It includes GPUCompilerTests: the GPU path compiled by AMD's ACO through RADV's null device (RADV_FORCE_FAMILY,
## mesa-vulkan-drivers) for eight chips from GCN 4 to RDNA 3, wave64 and wave32: no spills, no scratch, shared
## memory within the limit, occupancy floors (docs/performance.md, "The GPU path through ACO").
## Then the shader and device-network tests again with lavapipe's subgroups at 4 and 16 lanes
## (LP_NATIVE_VECTOR_WIDTH=128 / 512), the lane counts other GPUs have: the device's tiles are then the
## portable ones, chosen by the same code a GPU goes through (GALAXY_TEST_VARIANTS=device: the GPU
## variants of the main pass do not depend on the lane count and are not repeated).
## GALAXY_COMPILE_AHEAD=0: llvmpipe compiles a new pipeline set on every core at once (CompileAhead.swift), but here
## the two chains of tests already keep both cores busy, and the extra contexts' duplicate work would only add to
## them; CompileAheadTests turns it on for itself.
TEST_ENV := GALAXY_VALIDATION=1 VK_LAYER_ENABLES=VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT GALAXY_COMPILE_AHEAD=0
SWIFT_TEST := swift test -c release -Xswiftc -enable-testing --disable-swift-testing
LANE_TESTS := Conv2dTests|LinearTests|SGEMMTests|MaxPool2dTests|ReluTests|MSETests|DirichletTests|SGDTests|AdamTests|AugmentTests|ConstrainedOutputTests|ChunkSumTests|EvalSumsTests|VulkanRuntimeTests|PredictorTests|TorchGoldenTests.testDeviceNetworkMatchesPyTorch|SaliencyTests.testDeviceInputGradientMatchesReference
## And the network, training, predict and dataset tests in the discrete-GPU memory layout.
DISCRETE_TESTS := TorchGoldenTests.testDeviceNetworkMatchesPyTorch|SaliencyTests.testMapperExplainsTheChosenAnswer|TrainerTests|BatchFeederTests|PredictorTests|DataCacheTests|VulkanRuntimeTests|ConstrainedOutputTests|FinetuningTests
## And a second Vulkan driver, SwiftShader (chromium-common's, named by VK_DRIVER_FILES since the loader does not list
## it): another compiler, 4-lane subgroups, 256-byte offset alignment, a 1 GiB allocation limit. Every op (the GPU
## configurations included), the device network, the activation plan, the batch feeder and the runtime, with
## validation on: 2 min here. (SwiftShader runs the same shaders about 17x slower than lavapipe, docs/performance.md:
## the predictor, trainer and PyTorch-golden network suites take minutes there and are left out.)
SWIFTSHADER_ICD := /usr/lib/chromium/vk_swiftshader_icd.json
## The self-test against PyTorch's golden steps there adds 86 s more (3.3 min in all, over the 2.5 this pass may take):
## SWIFTSHADER_SELFTEST=1 runs it.
SWIFTSHADER_SELFTEST ?= 0
SWIFTSHADER_TESTS := VulkanRuntimeTests|ReluTests|MSETests|DirichletTests|SGDTests|AdamTests|ChunkSumTests|EvalSumsTests|MaxPool2dTests|AugmentTests|ConstrainedOutputTests|LinearTests|SGEMMTests|Conv2dTests|ActivationPlanTests|DeviceNetworkTests|BatchFeederTests
## FormatReaderTests check galaxy's TensorBoard event files and ONNX models with TensorBoard's reader, onnx.checker and
## ONNX Runtime from PyPI (the versions pinned here), in .venv-formats; under make test a missing one fails them.
FORMATS_VENV := .venv-formats
FORMATS_PACKAGES := tensorboard==2.21.0 onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6
formats-venv: $(FORMATS_VENV)/.installed
$(FORMATS_VENV)/.installed: Makefile
	python3 -m venv $(FORMATS_VENV) && $(FORMATS_VENV)/bin/pip install -q $(FORMATS_PACKAGES) && touch $@
## ReportBrowserTests open a run's report in headless Chromium (Debian's chromium, installed here for the tests only);
## under make test a missing browser fails them.
BROWSER := /usr/bin/chromium
browser:
	@[ -x $(BROWSER) ] || ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium)
## The passes run two at a time (make -j2, each pass's output printed whole when it ends): one chain runs the
## main pass's tests that start galaxy, mpirun or chromium processes (PROCESS_TESTS), then the SwiftShader pass; the
## other the rest of the main pass, then the lane and discrete passes (about 400 s each on 2026-12-03, once the process
## tests trained with the narrow blocks). Most of a pass waits on one thread (a pipeline's
## compilation, a process starting, a fence), so two at once keep both cores busy; the formats venv installs
## while the tests build. Every test runs exactly as before: the two halves of the main pass are one regex,
## filtered and skipped. The passes only run the built tests (--skip-build), so they take no SwiftPM lock on .build
## (--ignore-lock): with the lock, the second chain waited for the first's `swift test` to end.
PROCESS_TESTS := CLITests|DistributedTests|CatalogTests|GPUKitTests|ReportTests|FormatReaderTests
## The process tests check what commands do (signals, resumes, MPI ranks, files, reports), not the kernels: their galaxy
## processes train with the share path's narrow blocks (GALAXY_TILES=narrow), which give the default blocks' bits (the op
## tests compare them) and which lavapipe creates in half the time: pipeline creation is redone by every process (lavapipe
## caches only the JIT's output), 1.5 s against 3.3 s of CPU per training process, and these tests start 67 of them.
## The default blocks are trained by the other passes' trainer, network and op tests, and by make demo.
PROCESS_ENV := GALAXY_TILES=narrow
PASS_ENV := GALAXY_BROWSER=$(BROWSER) GALAXY_FORMATS_PYTHON=$(CURDIR)/$(FORMATS_VENV)/bin/python $(TEST_ENV)
test: deps browser
	@echo "== building the tests and the formats venv, then 6 passes two at a time; each pass's output appears when it ends"
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-passes
test-passes: test-swiftshader test-discrete
test-build:
	$(TEST_SWIFT_BUILD) --build-tests
test-processes: test-build formats-venv
	@echo "== main pass, the tests that start processes ($(PROCESS_TESTS))"
	$(PASS_ENV) $(PROCESS_ENV) $(SWIFT_TEST) --skip-build --ignore-lock --filter '$(PROCESS_TESTS)'
test-inprocess: test-build formats-venv
	@echo "== main pass, every other test"
	$(PASS_ENV) $(SWIFT_TEST) --skip-build --ignore-lock --skip '$(PROCESS_TESTS)'
test-lanes: test-inprocess
	for width in 128 512; do \
	  echo "== lavapipe with $$((width / 32))-lane subgroups (LP_NATIVE_VECTOR_WIDTH=$$width)"; \
	  LP_NATIVE_VECTOR_WIDTH=$$width GALAXY_TEST_VARIANTS=device $(TEST_ENV) $(SWIFT_TEST) --skip-build --ignore-lock --filter '$(LANE_TESTS)' || exit 1; \
	done
test-discrete: test-lanes
	@echo "== the discrete-GPU memory layout (GALAXY_MEMORY=discrete: device buffers unmapped, transfers through staging)"
	GALAXY_MEMORY=discrete GALAXY_TEST_VARIANTS=device $(TEST_ENV) $(SWIFT_TEST) --skip-build --ignore-lock --filter '$(DISCRETE_TESTS)'
test-swiftshader: test-processes
	@echo "== SwiftShader (VK_DRIVER_FILES=$(SWIFTSHADER_ICD))"
	VK_DRIVER_FILES=$(SWIFTSHADER_ICD) $(TEST_ENV) $(SWIFT_TEST) --skip-build --ignore-lock --filter '$(SWIFTSHADER_TESTS)'
	@if [ "$(SWIFTSHADER_SELFTEST)" = 1 ]; then set -x; \
	  VK_DRIVER_FILES=$(SWIFTSHADER_ICD) $(TEST_ENV) $(GALAXY) selftest --golden ../shared/data/torch-golden/sdnet_two_sgd_steps.safetensors; fi

## The main job on a built-in default: synthesize a small Galaxy Zoo, train on the default device, show the
## metrics, the answers for one held-out galaxy (the one with the smallest GalaxyID, beside its true answers) and
## the report. The seed's recipe (SGD lr 0.1, batch 128, 100 epochs, augmentation) needs hours; the demo takes
## one epoch of small batches of Adam steps without augmentation, through the decision-tree output layer started at
## the constant-mean predictor (no output can die), to learn in under a minute (docs/guide-recipes.md).
DEMO_RECIPE := --epochs 1 --batch 8 --optimizer adam --lr 0.0003 --no-augment --output constrained --mean-output-bias
demo: build
	$(GALAXY) synth --count 1200 --seed 7 --out $(DEMO_DIR)
	$(GALAXY) train --data $(DEMO_DIR) --run $(RUN_DIR) --overwrite $(DEMO_RECIPE)
	@echo; cat $(RUN_DIR)/metrics.csv; echo
	$(GALAXY) eval --checkpoint $(RUN_DIR)/best.safetensors --data $(DEMO_DIR) --show 1
	$(GALAXY) report $(RUN_DIR)
	@echo; echo "The report: $(CURDIR)/$(RUN_DIR)/report.html (open it in a browser, e.g. xdg-open $(RUN_DIR)/report.html)."
	@echo "One image: $(GALAXY) predict --checkpoint $(RUN_DIR)/best.safetensors IMAGE.jpg"

## Benchmarks on the default device; beside them, the seed's PyTorch model on this machine's CPU when
## `make bench-peer` has installed PyTorch into .venv-torch.
bench: build
	$(GALAXY) bench
	$(GALAXY) bench --json > .bench-galaxy.json
	@if [ -x .venv-torch/bin/python ]; then \
	  .venv-torch/bin/python bench/torch_peer.py > .bench-torch.json && \
	  python3 bench/compare.py .bench-galaxy.json .bench-torch.json; \
	else echo "(run 'make bench-peer' once to measure the seed's PyTorch code beside it)"; fi
	$(GALAXY) bench prepare

bench-peer:
	python3 -m venv .venv-torch && .venv-torch/bin/pip install -q torch torchvision

## The GPU kit: a folder to copy to a Linux x86-64 machine with a Vulkan GPU driver and no Swift, then run
## its run.sh there (correctness on the GPU, bench at batch 128 and 512, one timed epoch, PyTorch on CUDA
## beside it; one JSON report). galaxy is built with the Swift runtime linked statically.
KIT_DIR ?= gpu-kit
gpu-kit: deps
	swift build -c release --static-swift-stdlib --build-path .build/kit
	@if ldd .build/kit/release/galaxy | grep -E 'libswift|libFoundation|libdispatch|libmpi'; then \
	  echo "gpu-kit: galaxy still loads the libraries above" >&2; exit 1; fi
	./kit/assemble.sh .build/kit/release $(KIT_DIR)

clean:
	rm -rf .build $(KIT_DIR)
