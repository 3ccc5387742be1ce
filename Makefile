# galaxy — Galaxy Zoo CNN in GLSL compute shaders on Vulkan.
## chromium-common: for its SwiftShader Vulkan driver (/usr/lib/chromium/vk_swiftshader_icd.json, not registered with the
## loader), the second driver `make test` runs on.
PACKAGES := libvulkan-dev glslang-tools libturbojpeg0-dev mesa-vulkan-drivers vulkan-validationlayers openmpi-bin libopenmpi-dev python3 python3-venv binutils chromium-common
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
GALAXY := .build/release/galaxy
DEMO_DIR ?= demo-data
RUN_DIR ?= runs/demo

.PHONY: all build deps test formats-venv browser demo bench bench-peer gpu-kit protos clean

all: build

## Install the Debian packages that are missing (no-op when all are present).
deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	swift build -c release

## The whole test suite on the default Vulkan device (lavapipe here) with validation layers on, synchronization
## validation included (it checks that CommandSequence puts a barrier between every pair of dependent dispatches).
## It includes GPUCompilerTests: the GPU path compiled by AMD's ACO through RADV's null device (RADV_FORCE_FAMILY,
## mesa-vulkan-drivers) for eight chips from GCN 4 to RDNA 3, wave64 and wave32: no spills, no scratch, shared
## memory within the limit, occupancy floors (docs/performance.md, "The GPU path through ACO").
## Then the shader and device-network tests again with lavapipe's subgroups at 4 and 16 lanes
## (LP_NATIVE_VECTOR_WIDTH=128 / 512), the lane counts other GPUs have: the device's tiles are then the
## portable ones, chosen by the same code a GPU goes through (GALAXY_TEST_VARIANTS=device: the GPU
## variants of the main pass do not depend on the lane count and are not repeated).
TEST_ENV := GALAXY_VALIDATION=1 VK_LAYER_ENABLES=VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT
SWIFT_TEST := swift test -c release -Xswiftc -enable-testing --disable-swift-testing
LANE_TESTS := Conv2dTests|LinearTests|SGEMMTests|MaxPool2dTests|ReluTests|MSETests|DirichletTests|SGDTests|AugmentTests|ConstrainedOutputTests|ChunkSumTests|EvalSumsTests|VulkanRuntimeTests|PredictorTests|TorchGoldenTests.testDeviceNetworkMatchesPyTorch|SaliencyTests.testDeviceInputGradientMatchesReference
## And the network, training, predict and dataset tests in the discrete-GPU memory layout.
DISCRETE_TESTS := TorchGoldenTests.testDeviceNetworkMatchesPyTorch|SaliencyTests.testMapperExplainsTheChosenAnswer|TrainerTests|BatchFeederTests|PredictorTests|DataCacheTests|VulkanRuntimeTests|ConstrainedOutputTests
## And a second Vulkan driver, SwiftShader (chromium-common's, named by VK_DRIVER_FILES since the loader does not list
## it): another compiler, 4-lane subgroups, 256-byte offset alignment, a 1 GiB allocation limit. Every op (the GPU
## configurations included), the device network, the activation plan, the batch feeder and the runtime, with
## validation on: 2 min here. (SwiftShader runs the same shaders about 17x slower than lavapipe, docs/performance.md:
## the predictor, trainer and PyTorch-golden network suites take minutes there and are left out.)
SWIFTSHADER_ICD := /usr/lib/chromium/vk_swiftshader_icd.json
## The self-test against PyTorch's golden steps there adds 86 s more (3.3 min in all, over the 2.5 this pass may take):
## SWIFTSHADER_SELFTEST=1 runs it.
SWIFTSHADER_SELFTEST ?= 0
SWIFTSHADER_TESTS := VulkanRuntimeTests|ReluTests|MSETests|DirichletTests|SGDTests|ChunkSumTests|EvalSumsTests|MaxPool2dTests|AugmentTests|ConstrainedOutputTests|LinearTests|SGEMMTests|Conv2dTests|ActivationPlanTests|DeviceNetworkTests|BatchFeederTests
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
test: deps formats-venv browser
	GALAXY_BROWSER=$(BROWSER) GALAXY_FORMATS_PYTHON=$(CURDIR)/$(FORMATS_VENV)/bin/python $(TEST_ENV) $(SWIFT_TEST)
	for width in 128 512; do \
	  echo "== lavapipe with $$((width / 32))-lane subgroups (LP_NATIVE_VECTOR_WIDTH=$$width)"; \
	  LP_NATIVE_VECTOR_WIDTH=$$width GALAXY_TEST_VARIANTS=device $(TEST_ENV) $(SWIFT_TEST) --skip-build --filter '$(LANE_TESTS)' || exit 1; \
	done
	@echo "== the discrete-GPU memory layout (GALAXY_MEMORY=discrete: device buffers unmapped, transfers through staging)"
	GALAXY_MEMORY=discrete GALAXY_TEST_VARIANTS=device $(TEST_ENV) $(SWIFT_TEST) --skip-build --filter '$(DISCRETE_TESTS)'
	@echo "== SwiftShader (VK_DRIVER_FILES=$(SWIFTSHADER_ICD))"
	VK_DRIVER_FILES=$(SWIFTSHADER_ICD) $(TEST_ENV) $(SWIFT_TEST) --skip-build --filter '$(SWIFTSHADER_TESTS)'
	@if [ "$(SWIFTSHADER_SELFTEST)" = 1 ]; then set -x; \
	  VK_DRIVER_FILES=$(SWIFTSHADER_ICD) $(TEST_ENV) $(GALAXY) selftest --golden ../shared/data/torch-golden/sdnet_two_sgd_steps.safetensors; fi

## The main job on a built-in default: synthesize a small Galaxy Zoo, train a few epochs on the default
## device, show the metrics and the plot, predict one image. The seed's recipe (lr 0.1, batch 128, 100 epochs,
## augmentation) needs hours; the demo takes larger, more frequent steps without augmentation to learn in minutes.
demo: build
	$(GALAXY) synth --count 800 --seed 7 --out $(DEMO_DIR)
	$(GALAXY) train --data $(DEMO_DIR) --run $(RUN_DIR) --overwrite --epochs 4 --batch 16 --lr 1.0 --no-augment --mean-output-bias
	@echo; cat $(RUN_DIR)/metrics.csv; echo
	$(GALAXY) predict --checkpoint $(RUN_DIR)/best.safetensors --labels $(DEMO_DIR)/training_solutions_rev1.csv \
	  $$(ls $(DEMO_DIR)/images_training_rev1/*.jpg | head -1)
	$(GALAXY) report $(RUN_DIR)

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
## beside it; one JSON report). galaxy is built with the Swift runtime linked statically and without MPI.
KIT_DIR ?= gpu-kit
gpu-kit: deps
	GALAXY_NO_MPI=1 swift build -c release --static-swift-stdlib --build-path .build/kit
	@if ldd .build/kit/release/galaxy | grep -E 'libswift|libFoundation|libdispatch|libmpi'; then \
	  echo "gpu-kit: galaxy still loads the libraries above" >&2; exit 1; fi
	./kit/assemble.sh .build/kit/release $(KIT_DIR)

## Regenerates Sources/GalaxyKit/Formats/Generated/*.pb.swift from Protos/*.proto after a change there. Not part of
## build, test or CI (the generated code is committed). Needs protoc (Debian: protobuf-compiler); the generator
## is built from the swift-protobuf checkout that SwiftPM resolved (a few minutes, once).
PROTOC_GEN_SWIFT := .build/checkouts/swift-protobuf/.build/release/protoc-gen-swift
protos:
	@[ -x $(PROTOC_GEN_SWIFT) ] || (cd .build/checkouts/swift-protobuf && swift build -c release --product protoc-gen-swift)
	protoc --plugin=protoc-gen-swift=$(PROTOC_GEN_SWIFT) --swift_out=Sources/GalaxyKit/Formats/Generated --proto_path=Protos Protos/*.proto

clean:
	rm -rf .build $(KIT_DIR)
