import CVulkan
import XCTest
@testable import GalaxyKit

final class VulkanRuntimeTests: GPUTestCase {
    func testValidationLayerIsOnWhenRequested() throws {
        // `make test` sets GALAXY_VALIDATION=1: the suite's silence means something only if the layer is loaded.
        if VulkanContext.validationRequested { XCTAssertTrue(context.validationEnabled) }
    }

    func testDevicePreferenceAndSelectors() throws {
        func info(_ i: Int, _ name: String, _ rank: Int) -> DeviceInfo {
            DeviceInfo(index: i, name: name, type: "", typeRank: rank, memoryBytes: 0, subgroupSize: 8, apiVersion: "1.3")
        }
        let devices = [info(0, "llvmpipe", 3), info(1, "Intel UHD", 1), info(2, "NVIDIA H200", 0)]
        XCTAssertEqual(try VulkanContext.choose(devices, selector: nil).index, 2, "discrete first")
        XCTAssertEqual(try VulkanContext.choose(Array(devices.prefix(2)), selector: nil).index, 1, "integrated before CPU")
        XCTAssertEqual(try VulkanContext.choose(devices, selector: "0").index, 0)
        XCTAssertEqual(try VulkanContext.choose(devices, selector: "intel").index, 1)
        XCTAssertThrowsError(try VulkanContext.choose(devices, selector: "7")) { XCTAssertTrue("\($0)".contains("index 7")) }
        XCTAssertThrowsError(try VulkanContext.choose(devices, selector: "radeon")) { XCTAssertTrue("\($0)".contains("radeon")) }
        // mpirun ranks by local rank: the (slot mod count)-th device of the best type, in index order.
        let node = [info(0, "llvmpipe", 3), info(3, "H200 b", 0), info(1, "H200 a", 0), info(2, "Intel UHD", 1)]
        XCTAssertEqual(try (0..<5).map { try VulkanContext.choose(node, selector: nil, slot: $0).index }, [1, 3, 1, 3, 1])
        XCTAssertEqual(try VulkanContext.choose(node, selector: "intel", slot: 1).index, 2, "a selector wins over the slot")
        // Two CPU drivers: the faster one, lavapipe, whatever the loader's order.
        let cpus = [info(0, "SwiftShader Device (Subzero)", 3), info(1, "llvmpipe (LLVM 15.0.6, 256 bits)", 3)]
        XCTAssertEqual(try VulkanContext.choose(cpus, selector: nil).index, 1, "lavapipe before SwiftShader")
        XCTAssertEqual(try (0..<3).map { try VulkanContext.choose(cpus, selector: nil, slot: $0).index }, [1, 1, 1])
        XCTAssertEqual(try VulkanContext.choose(cpus, selector: "swiftshader").index, 0)
    }

    /// A device short of something galaxy needs gets an error naming it, before the logical device or
    /// the pipeline is created (the checks run on this device's own properties, each changed in turn).
    func testADeviceLackingARequirementIsAClearError() throws {
        var info = context.info, limits = context.limits
        let memory = context.memoryProperties
        XCTAssertNoThrow(try VulkanContext.checkRequirements(info, limits: limits, policy: context.memoryPolicy, memory: memory))
        func assertNames(_ parts: [String], _ body: () throws -> Void, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { e in
                for p in parts { XCTAssertTrue("\(e)".contains(p), "\(p) not in: \(e)", line: line) }
            }
        }
        var old = info
        old.supportsVulkan11 = false
        assertNames([info.name, "Vulkan 1.1"]) { try VulkanContext.checkRequirements(old, limits: limits, policy: context.memoryPolicy, memory: memory) }
        var coarse = limits
        coarse.minStorageBufferOffsetAlignment = 512
        assertNames(["minStorageBufferOffsetAlignment 512", "256"]) {
            try VulkanContext.checkRequirements(info, limits: coarse, policy: context.memoryPolicy, memory: memory)
        }
        // Only device-local memory, none the host can map: the host-written and staging buffers have nowhere to go.
        var unmappable = memory
        withUnsafeMutableBytes(of: &unmappable.memoryTypes) { raw in
            let types = raw.bindMemory(to: VkMemoryType.self)
            for i in 0..<Int(memory.memoryTypeCount) { types[i].propertyFlags = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue }
        }
        let policy = try MemoryPolicy(props: unmappable, environment: [:])
        assertNames(["no memory type", "host-visible coherent", "VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT", "host-written"]) {
            try VulkanContext.checkRequirements(info, limits: limits, policy: policy, memory: unmappable)
        }

        // Per pipeline: bindings, workgroup size, subgroup operations.
        let relu = try ShaderLibrary.spirv(named: "relu_forward")
        XCTAssertNoThrow(try ComputePipeline.checkDevice(info, limits, shader: "relu_forward", bindings: 2, workgroupSize: 64, spirv: relu))
        limits.maxPerStageDescriptorStorageBuffers = 4
        assertNames(["sgemm", "binds 5", "maxPerStageDescriptorStorageBuffers"]) {
            try ComputePipeline.checkDevice(info, limits, shader: "sgemm", bindings: 5, workgroupSize: 64, spirv: relu)
        }
        limits.maxComputeWorkGroupInvocations = 128
        assertNames(["relu_forward", "256 invocations", "maxComputeWorkGroupInvocations"]) {
            try ComputePipeline.checkDevice(info, limits, shader: "relu_forward", bindings: 2, workgroupSize: 256, spirv: relu)
        }
        // A shader that declares subgroup ballot operations on a device without them in compute shaders.
        let (sgemm, portable) = (try ShaderLibrary.spirv(named: "sgemm"), try ShaderLibrary.spirv(named: "sgemm_nosg"))
        XCTAssertTrue(SubgroupCapability.required(sgemm).contains { $0.name == "ballot" }, "sgemm uses subgroupBroadcast")
        XCTAssertEqual(SubgroupCapability.required(portable), [], "the subgroup-free build declares no subgroup operation")
        info.subgroupOperations = VK_SUBGROUP_FEATURE_BASIC_BIT.rawValue
        assertNames(["sgemm", "ballot", info.name, "VK_SUBGROUP_FEATURE_BALLOT_BIT"]) {
            try ComputePipeline.checkDevice(info, context.limits, shader: "sgemm", bindings: 3, workgroupSize: 64, spirv: sgemm)
        }
        XCTAssertNoThrow(try ComputePipeline.checkDevice(info, context.limits, shader: "sgemm_nosg", bindings: 3, workgroupSize: 64, spirv: portable))
    }

    func testBufferRoundTripAndOffsets() throws {
        let b = try DeviceBuffer(context, floats: 100, label: "roundtrip")
        let values = randomFloats(100, seed: 9)
        try b.upload(values)
        XCTAssertEqual(try b.download(count: 100), values)
        try b.upload([1, 2, 3] as [Float], at: 50)
        XCTAssertEqual(try b.download(count: 4, from: 49), [values[49], 1, 2, 3])
    }

    func testRecordedSequenceReplays() throws {
        // A sequence recorded once and submitted three times applies its dispatches three times.
        let w = try input([Float](repeating: 1, count: 10)), g = try input([Float](repeating: 1, count: 10))
        let buf = try input([Float](repeating: 0, count: 10))
        let seq = try CommandSequence(context)
        try kernels.sgdMomentum(seq, weights: w.floats(0, 10), grads: g.floats(0, 10), buffer: buf.floats(0, 10), count: 10, lr: 0.5, momentum: 0)
        for _ in 0..<3 { try seq.submit() }
        XCTAssertEqual(try result(w, 10), [Float](repeating: -0.5, count: 10))
    }

    func testGroupCountsSpreadLargeDispatches() {
        XCTAssertEqual(CommandSequence.groupCounts(invocations: 100, workgroupSize: 64, maxX: 65535).0, 2)
        let (gx, gy) = CommandSequence.groupCounts(invocations: 64 * 70000, workgroupSize: 64, maxX: 65535)
        XCTAssertLessThanOrEqual(gx, 65535)
        XCTAssertGreaterThanOrEqual(gx * gy, 70000)
    }

    /// The readonly / writeonly qualifiers as ShaderAccess reads them from the SPIR-V, including a
    /// binding seen through two aliased blocks (relu_backward's float and vec4 views) and read-write ones.
    func testShaderAccessFollowsTheQualifiers() throws {
        let relu = ShaderAccess(spirv: try ShaderLibrary.spirv(named: "relu_backward"))
        XCTAssertEqual([0, 1, 2].map(relu.reads), [true, true, false])
        XCTAssertEqual([0, 1, 2].map(relu.writes), [false, false, true])
        let sgd = ShaderAccess(spirv: try ShaderLibrary.spirv(named: "sgd_momentum"))
        XCTAssertEqual([0, 1, 2].map(sgd.reads), [true, true, true])
        XCTAssertEqual([0, 1, 2].map(sgd.writes), [true, false, true])
        XCTAssertTrue(ShaderAccess(spirv: [1, 2, 3]).writes(0), "unparsable code counts as read and written")
    }

    /// Barriers only between dependent dispatches: a = relu(x); b = relu(a) and c = relu(a) depend on a
    /// but not on each other; d = relu(b) depends on b; writing x again must wait for the read of x.
    /// Poisoned outputs and the values check that every dispatch saw its inputs.
    func testBarriersOnlyBetweenDependentDispatches() throws {
        // x is written in two halves of h floats: the second starts at a multiple of the device's
        // minStorageBufferOffsetAlignment (from 4 to 256 bytes), so h is 32 floats or more.
        let h = max(32, Int(context.limits.minStorageBufferOffsetAlignment) / 4), n = 2 * h
        let x = try input(randomFloats(n, seed: 3))
        let (a, b, c, d) = (try output(n), try output(n), try output(n), try output(n))
        let seq = try CommandSequence(context)
        try kernels.reluForward(seq, x: x.floats(0, n), y: a.floats(0, n), count: n)
        XCTAssertEqual(seq.barriers, 0)
        try kernels.reluBackward(seq, y: a.floats(0, n), dy: a.floats(0, n), dx: b.floats(0, n), count: n)  // reads a
        XCTAssertEqual(seq.barriers, 1)
        try kernels.reluForward(seq, x: a.floats(0, n), y: c.floats(0, n), count: n)  // reads a too: no new barrier
        XCTAssertEqual(seq.barriers, 1)
        try kernels.reluForward(seq, x: b.floats(0, n), y: d.floats(0, n), count: n)  // reads b
        XCTAssertEqual(seq.barriers, 2)
        try kernels.reluForward(seq, x: d.floats(0, h), y: x.floats(h, h), count: h)  // reads d (pending write)
        XCTAssertEqual(seq.barriers, 3)
        try kernels.reluForward(seq, x: c.floats(0, h), y: x.floats(0, h), count: h)  // x[0..<h]: nothing pending touches it
        XCTAssertEqual(seq.barriers, 3)
        try seq.submit()
        let want = randomFloats(n, seed: 3).map { max($0, 0) }
        XCTAssertEqual(try result(a, n), want)
        XCTAssertEqual(try result(b, n), want.map { $0 > 0 ? $0 : 0 })
        XCTAssertEqual(try result(c, n), want)
        XCTAssertEqual(try result(d, n), want)
        XCTAssertEqual(try x.download(count: n), Array(want[0..<h] + want[0..<h]))  // relu(c) then relu(d), first halves
    }

    /// A binding at an offset the device does not allow is an error naming the buffer and the limit
    /// (recorded before any Vulkan call), not a crash or a validation message.
    func testMisalignedBindingIsAClearError() throws {
        let alignment = Int(context.limits.minStorageBufferOffsetAlignment)
        guard alignment > 4 else { throw XCTSkip("\(context.info.name) binds at any 4-byte offset (minStorageBufferOffsetAlignment \(alignment))") }
        let x = try input(randomFloats(64, seed: 3), "misaligned input"), y = try output(64)
        let seq = try CommandSequence(context)
        let misaligned = x.floats(1, 32)
        XCTAssertNotEqual(misaligned.offset % alignment, 0)
        XCTAssertThrowsError(try kernels.reluForward(seq, x: misaligned, y: y.floats(0, 32), count: 32)) {
            let text = "\($0)"
            for part in ["misaligned input", "byte offset \(misaligned.offset)", "minStorageBufferOffsetAlignment \(alignment)"] { XCTAssertTrue(text.contains(part), "\(part) not in: \(text)") }
        }
    }

    /// Under GPU-assisted validation (VK_LAYER_ENABLES=VK_VALIDATION_FEATURE_ENABLE_GPU_ASSISTED_EXT), a
    /// shader access past its binding's range is reported: the check that the mode is on and working,
    /// so that a silent GPU-assisted run means something. The buffers are large enough for the access,
    /// only the bound ranges are not, so no driver touches memory it does not own.
    func testGPUAssistedValidationReportsAnAccessPastTheBinding() throws {
        let enables = ProcessInfo.processInfo.environment["VK_LAYER_ENABLES"] ?? ""
        guard context.validationEnabled && enables.contains("VK_VALIDATION_FEATURE_ENABLE_GPU_ASSISTED_EXT") else {
            throw XCTSkip("GPU-assisted validation is off (GALAXY_VALIDATION=1 VK_LAYER_ENABLES=VK_VALIDATION_FEATURE_ENABLE_GPU_ASSISTED_EXT turns it on)")
        }
        let x = try input(randomFloats(256, seed: 3)), y = try output(256)
        try run { try kernels.reluForward($0, x: x.floats(0, 64), y: y.floats(0, 64), count: 256) }
        let messages = ValidationLog.drain()
        // (Debian 12's layer, 1.3.239, reports nothing here: its GPU-assisted mode does not check plain storage-buffer bindings.)
        XCTAssertTrue(messages.contains { $0.contains("out of bounds") },
                      "GPU-assisted validation saw nothing of an access 192 floats past a 64-float binding:\n\(messages.joined(separator: "\n"))")
        print("GPU-assisted validation reported:\n" + messages.prefix(2).joined(separator: "\n"))
    }

    /// The discrete-GPU memory layout on this device: device buffers unmapped, every transfer through
    /// staging in chunks (a round trip across the 64 MiB chunk boundary at an odd offset), indices mapped.
    func testDiscreteLayoutStagesEveryTransfer() throws {
        let discrete = try VulkanContext(memory: .discrete)
        XCTAssertEqual(discrete.memoryPolicy.layout, .discrete)
        let count = VulkanContext.stagingChunk / 4 + 1000
        let big = try DeviceBuffer(discrete, floats: count + 3, label: "big")
        XCTAssertFalse(big.isMapped)
        XCTAssertTrue(try DeviceBuffer(discrete, bytes: 64, label: "indices", hostVisible: true).isMapped)
        var rng = SplitMix64(seed: 5)
        let values = (0..<count).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x7F7F_FFFF) }
        try big.upload(values, at: 3)
        XCTAssertEqual(try big.download(count: count, from: 3), values)
        XCTAssertEqual(try big.download(count: 2, from: 3 + count - 2), Array(values.suffix(2)))
    }

    /// A training step gives the same bits in both layouts (staging changes where bytes live, not the sums).
    /// The shared context runs it in its layout (`make test`'s discrete pass sets GALAXY_MEMORY=discrete), and a
    /// context made with the other layout named runs it again: unified against discrete in every pass, with one
    /// new context's pipelines to create (on SwiftShader, which compiles them again for every context, 15 s).
    func testDiscreteLayoutIsBitIdenticalToUnified() throws {
        func step(_ ctx: VulkanContext) throws -> (output: [Float], grads: [String: [Float]]) {
            let net = try DeviceNetwork(kernels: Kernels(ctx, path: KernelPath.portable()), outputs: 37, maxBatch: 2, training: true, outputMode: .constrained)
            try net.setWeights(ModelWeights(outputs: 37, seed: 4))
            try net.input.upload(randomFloats(2 * SanderDielemanNet.inputCount, seed: 6, -2, 2))
            try net.target.upload(randomFloats(2 * 37, seed: 7, 0, 0.5))
            let seq = try CommandSequence(ctx)
            try net.recordForward(seq, batch: 2)
            try net.recordBackward(seq, batch: 2)
            try net.recordUpdate(seq, lr: 0.1, momentum: 0.9)
            try seq.submit()
            return (try net.output.download(count: 2 * 37), try net.gradients())
        }
        let other = try VulkanContext(memory: context.memoryPolicy.layout == .unified ? .discrete : .unified)
        let (unified, discrete) = context.memoryPolicy.layout == .unified ? (context!, other) : (other, context!)
        XCTAssertEqual(unified.memoryPolicy.layout, .unified)
        XCTAssertEqual(discrete.memoryPolicy.layout, .discrete)
        XCTAssertTrue(try DeviceBuffer(unified, floats: 4, label: "probe").isMapped, "the unified context's device buffers are mapped")
        XCTAssertFalse(try DeviceBuffer(discrete, floats: 4, label: "probe").isMapped, "the discrete context's device buffers are staged")
        let (a, b) = (try step(unified), try step(discrete))
        XCTAssertEqual(a.output.map(\.bitPattern), b.output.map(\.bitPattern))
        for (name, g) in a.grads { XCTAssertEqual(g.map(\.bitPattern), b.grads[name]!.map(\.bitPattern), name) }
    }

    /// Every VkResult value in the installed vulkan_core.h has its name (a value promoted to core by its core
    /// name, without the _KHR or _EXT it had before), and errors say the name, not the number.
    func testVulkanResultsAreNamed() throws {
        let candidates = [ProcessInfo.processInfo.environment["VULKAN_SDK"].map { "\($0)/include" }, "/usr/include", "/usr/local/include",
                          "/opt/homebrew/include"].compactMap { $0 }.map { "\($0)/vulkan/vulkan_core.h" }
        guard let path = candidates.first(where: FileManager.default.fileExists) else {
            return XCTFail("no vulkan_core.h in \(candidates) (libvulkan-dev installs it)")
        }
        let header = try String(contentsOfFile: path, encoding: .utf8)
        let start = try XCTUnwrap(header.range(of: "typedef enum VkResult {"))
        let end = try XCTUnwrap(header.range(of: "} VkResult;", range: start.upperBound..<header.endIndex))
        let body = String(header[start.upperBound..<end.lowerBound])
        // Values, not aliases (`VK_X_KHR = VK_X`) nor VK_RESULT_MAX_ENUM (hexadecimal).
        let entry = try NSRegularExpression(pattern: "(VK_[A-Z0-9_]+) = (-?[0-9]+),")
        var named = 0
        for m in entry.matches(in: body, range: NSRange(body.startIndex..., in: body)) {
            let name = String(body[Range(m.range(at: 1), in: body)!]), value = Int32(body[Range(m.range(at: 2), in: body)!])!
            let ours = VulkanResult.name(value)
            let renamed = ["VK_ERROR_INCOMPATIBLE_SHADER_BINARY_EXT": "VK_INCOMPATIBLE_SHADER_BINARY_EXT"]
            XCTAssertTrue(ours == name || name == ours + "_KHR" || name == ours + "_EXT" || renamed[name] == ours, "\(name) = \(value) is named \(ours)")
            named += 1
        }
        XCTAssertGreaterThan(named, 40, "the VkResult values of \(path) were not found")
        XCTAssertEqual(VulkanResult.name(VK_ERROR_OUT_OF_DEVICE_MEMORY), "VK_ERROR_OUT_OF_DEVICE_MEMORY")
        XCTAssertEqual(VulkanResult.name(VkResult(rawValue: -1_000_483_000)), "VK_ERROR_NOT_ENOUGH_SPACE_KHR", "newer than some headers")
        XCTAssertTrue(VulkanResult.name(-77).contains("-77"), VulkanResult.name(-77))
        XCTAssertEqual(VulkanError("vkCreateDescriptorPool", VK_ERROR_FRAGMENTED_POOL).description, "vkCreateDescriptorPool failed: VK_ERROR_FRAGMENTED_POOL")
        let lost = VulkanError("vkQueueSubmit", VK_ERROR_DEVICE_LOST)
        XCTAssertEqual(lost.deviceFailure, .deviceLost)
        XCTAssertTrue(lost.description.hasPrefix("vkQueueSubmit failed: VK_ERROR_DEVICE_LOST: "), lost.description)
    }

    /// The instance enables VK_KHR_portability_enumeration with its flag exactly where the loader offers it
    /// (else a portability driver such as MoltenVK stays hidden), and a device that offers
    /// VK_KHR_portability_subset gets it enabled.
    func testPortabilityDriversAreEnumeratedAndTheirSubsetEnabled() {
        let linux = VulkanContext.instanceSetup(available: ["VK_KHR_surface", "VK_EXT_debug_utils"], validation: false)
        XCTAssertEqual(linux.layers, [])
        XCTAssertEqual(linux.extensions, [])
        XCTAssertEqual(linux.flags, 0)
        let mac = VulkanContext.instanceSetup(available: ["VK_KHR_surface", "VK_KHR_portability_enumeration", "VK_EXT_debug_utils"], validation: false)
        XCTAssertEqual(mac.extensions, ["VK_KHR_portability_enumeration"])
        XCTAssertEqual(mac.flags, VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR.rawValue)
        let validated = VulkanContext.instanceSetup(available: ["VK_KHR_portability_enumeration"], validation: true)
        XCTAssertEqual(validated.layers, ["VK_LAYER_KHRONOS_validation"])
        XCTAssertEqual(validated.extensions, ["VK_EXT_debug_utils", "VK_KHR_portability_enumeration"])
        XCTAssertEqual(validated.flags, VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR.rawValue)
        XCTAssertEqual(VulkanContext.deviceExtensions(available: ["VK_KHR_maintenance4", "VK_KHR_portability_subset"]), ["VK_KHR_portability_subset"])
        XCTAssertEqual(VulkanContext.deviceExtensions(available: ["VK_KHR_maintenance4"]), [])
    }

    /// A wait's limit: the floor plus the recorded work's allowance, or GALAXY_WAIT_TIMEOUT's; a recorded
    /// sequence counts its dispatches, multiply-adds and the bytes its dispatches read and its copies move.
    func testWaitLimitsFollowTheWorkOrTheSetting() throws {
        XCTAssertEqual(WaitLimit(work: .init()).seconds, WaitLimit.floorSeconds)
        XCTAssertGreaterThanOrEqual(WaitLimit.floorSeconds, 120, "room for a driver that compiles on first use")
        let step = WaitLimit(work: .init(dispatches: 40, macs: 30_000_000_000, bytes: 2_000_000_000))
        XCTAssertEqual(step.seconds, WaitLimit.floorSeconds + 40 + 300 + 20, accuracy: 1e-6)
        XCTAssertTrue("\(step)".hasPrefix("660 seconds, the limit galaxy derives") && "\(step)".contains("GALAXY_WAIT_TIMEOUT=SECONDS"), "\(step)")
        let set = WaitLimit(work: step.work, setting: ("2h", try WaitLimit.parse("2h")))
        XCTAssertEqual(set.seconds, 7200)
        XCTAssertTrue("\(set)".hasPrefix("7200 seconds, the limit GALAXY_WAIT_TIMEOUT=2h sets"), "\(set)")
        XCTAssertEqual(try WaitLimit.parse("90"), 90)
        XCTAssertEqual(try WaitLimit.parse("0.5"), 0.5)
        for bad in ["0", "-3", "soon", "nan", "inf"] {
            XCTAssertThrowsError(try WaitLimit.parse(bad), bad) { XCTAssertTrue("\($0)".contains("GALAXY_WAIT_TIMEOUT=\(bad)"), "\($0)") }
        }
        XCTAssertEqual(WaitLimit(work: .init(), setting: ("1.5", 1.5)).nanoseconds, 1_500_000_000)
        XCTAssertEqual(WaitLimit(work: .init(), setting: ("1e12", 1e12)).nanoseconds, UInt64.max, "beyond UInt64 nanoseconds: no limit")
        XCTAssertEqual(try FaultInjection.parse("wait:3:timeout", rank: nil)?.result, VK_TIMEOUT)
        XCTAssertThrowsError(try FaultInjection.parse("allocate:3:timeout", rank: nil)) { XCTAssertTrue("\($0)".contains("wait only"), "\($0)") }

        let (count, chunks) = (64, 3)
        let x = try DeviceBuffer(context, floats: count * chunks, label: "x"), y = try DeviceBuffer(context, floats: count, label: "y")
        let z = try DeviceBuffer(context, floats: count, label: "z")
        try x.upload((0..<count * chunks).map(Float.init))
        let seq = try CommandSequence(context)
        try kernels.chunkSum(seq, x: x.whole, y: y.whole, count: count, chunks: chunks)
        seq.copy(y.whole, to: z.whole)
        XCTAssertEqual(seq.work, WaitLimit.Work(dispatches: 1, macs: count * chunks, bytes: 4 * count * chunks + 4 * count))
        XCTAssertEqual(seq.waitLimit, context.waitLimit(for: seq.work))
        if ProcessInfo.processInfo.environment["GALAXY_WAIT_TIMEOUT"] == nil {
            XCTAssertEqual(seq.waitLimit.seconds, WaitLimit.floorSeconds + 1 + Double(count * chunks) * 1e-8 + Double(4 * count * (chunks + 1)) * 1e-8,
                           accuracy: 1e-9)
        }
        try seq.submit()  // within its limit on a working device
        XCTAssertFalse(context.isAbandoned)
        XCTAssertEqual(try z.download(count: 2), [0 + 64 + 128, 1 + 65 + 129])
        try context.waitIdle()
    }

    /// A buffer no memory type can hold: the error names the buffer and its size, and gives a hint.
    func testImpossibleAllocationIsAClearError() throws {
        XCTAssertThrowsError(try DeviceBuffer(context, bytes: 1 << 44, label: "huge activations")) {
            let text = "\($0)"
            XCTAssertTrue(text.contains("huge activations"), text)
            XCTAssertTrue(text.contains("\(1 << 44)") || text.contains("\((1 << 44) >> 20) MiB"), text)
            XCTAssertTrue(text.contains("maxMemoryAllocationSize"), text)
        }
        // Within the heap but over maxMemoryAllocationSize (discrete GPUs have heaps larger than that cap;
        // lavapipe's cap is not below its heap, so a context of its own is given a 64 MiB cap): refused too,
        // never handed to vkAllocateMemory, which would give lavapipe the 64 MiB + 4 KiB.
        let capped = try VulkanContext()
        capped.maxMemoryAllocationSize = 64 << 20
        XCTAssertLessThan(capped.maxMemoryAllocationSize, UInt64(capped.largestDeviceLocalHeap))
        XCTAssertNoThrow(try DeviceBuffer(capped, bytes: 64 << 20, label: "at the allocation size"))
        XCTAssertThrowsError(try DeviceBuffer(capped, bytes: (64 << 20) + 4096, label: "over the allocation size")) {
            XCTAssertTrue("\($0)".contains("over the allocation size") && "\($0)".contains("maxMemoryAllocationSize is 64"), "\($0)")
        }
        // And through a staging role's memory types.
        XCTAssertThrowsError(try DeviceBuffer(context, bytes: 1 << 44, label: "huge upload", role: .upload)) {
            XCTAssertTrue("\($0)".contains("huge upload"), "\($0)")
        }
    }
}

/// The compile notice tells the truth: once per process, only when a pipeline new to this machine is about to
/// be compiled, naming what is compiled; never for pipelines an earlier process compiled.
final class CompileNoticeTests: XCTestCase {
    func testTheNoticeAppearsOnlyForPipelinesThisMachineHasNotCompiled() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-notice-\(UUID().uuidString)/compiled.txt")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        var said: [String] = []
        let first = CompileNotice(device: "llvmpipe", driver: "d", cpu: true, file: file)
        let keys = ["a", "b"].map { first.key(shader: $0, code: [1, 2, 3], specialization: [64]) }
        for (key, shader) in zip(keys, ["a", "b"]) {
            first.willCreate(key, shader: shader, kernels: "the portable path's kernels", notice: { said.append($0) })
            first.created(key, shader: shader, seconds: 0, firstDispatch: 0)
        }
        XCTAssertEqual(said.count, 1, "\(said)")
        XCTAssertTrue(said[0].contains("compiling the portable path's kernels for llvmpipe that this machine has not compiled before, a first"), said[0])
        XCTAssertFalse(said[0].contains("first run"), said[0])
        // A later process with the same pipelines: nothing to say; with one more: said once, naming it.
        let second = CompileNotice(device: "llvmpipe", driver: "d", cpu: true, file: file)
        for (key, shader) in zip(keys, ["a", "b"]) { second.willCreate(key, shader: shader, kernels: nil, notice: { said.append($0) }) }
        XCTAssertEqual(said.count, 1, "\(said)")
        let newKey = second.key(shader: "c", code: [4], specialization: [64])
        second.willCreate(newKey, shader: "c", kernels: nil, notice: { said.append($0) })
        XCTAssertEqual(said.count, 2)
        XCTAssertTrue(said[1].contains(", c first"), said[1])
        // A GPU driver compiles in milliseconds: no notice.
        let gpu = CompileNotice(device: "NVIDIA H200", driver: "n", cpu: false, file: file)
        gpu.willCreate("x", shader: "x", kernels: nil, notice: { said.append($0) })
        XCTAssertEqual(said.count, 2)
    }
}
