import Foundation
import XCTest
@testable import GalaxyKit

/// CompileAhead.swift: before a launch that would run pipelines this machine has not compiled, llvmpipe compiles
/// them on extra contexts beside this one, and this context finds their work in Mesa's shader cache.
final class CompileAheadTests: XCTestCase {
    /// Eight relu_forward pipelines with workgroup sizes no other code uses, in an empty shader cache and an empty
    /// record of compiled pipelines: one launch compiles all eight ahead, some on another context, and every
    /// dispatch computes its reference's bits; a second launch of the same pipelines compiles nothing.
    func testNewPipelinesAreCompiledOnSeveralContextsAndComputeTheSame() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.activeProcessorCount > 1, "one core: no other core to compile on")
        // make test turns compiling ahead off for its passes (GALAXY_COMPILE_AHEAD=0: its two chains of tests keep both
        // cores busy already); this test turns it on for itself.
        let fresh = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-compile-ahead-\(UUID().uuidString)")
        let restore = setEnvironment(["MESA_SHADER_CACHE_DIR": fresh.appendingPathComponent("MESA_SHADER_CACHE_DIR").path,
                                      "XDG_CACHE_HOME": fresh.appendingPathComponent("XDG_CACHE_HOME").path, "GALAXY_COMPILE_AHEAD": "1"])
        defer {
            restore()
            try? FileManager.default.removeItem(at: fresh)
        }
        try XCTSkipUnless(VulkanContext.compilesAhead, "compiling ahead is off in this environment (GALAXY_FAULT, GALAXY_WAIT_TIMEOUT, mpirun, ...)")
        let context = try VulkanContext(validation: VulkanContext.validationRequested)
        try XCTSkipUnless(context.info.name.hasPrefix("llvmpipe"), "\(context.info.name) compiles without Mesa's shader cache")

        let sizes: [UInt32] = [3, 5, 7, 9, 11, 13, 15, 17], n = 1024  // 4 KiB per output: aligned bindings
        let x = (0..<n).map { Float(($0 * 37) % 101) - 50.5 }
        let input = try DeviceBuffer(context, bytes: n * 4, label: "x", hostVisible: true)
        try input.upload(x)
        let output = try DeviceBuffer(context, bytes: sizes.count * n * 4, label: "y", hostVisible: true)
        try output.upload([Float](repeating: .nan, count: sizes.count * n))  // poisoned
        func record() throws -> CommandSequence {
            let seq = try CommandSequence(context)
            for (k, size) in sizes.enumerated() {
                let p = try context.pipeline("relu_forward", bindings: 2, pushSize: MemoryLayout<CountParams>.size, specialization: [size, 1])
                try seq.dispatch(p, [input.floats(0, n), output.floats(k * n, n)], push: CountParams(count: UInt32(n)), invocations: n)
            }
            return seq
        }
        try record().submit()
        let done = try XCTUnwrap(context.lastCompileAhead, "nothing was compiled ahead")
        XCTAssertEqual(done.pipelines, sizes.count)
        XCTAssertGreaterThan(done.threads, 1)
        XCTAssertGreaterThan(done.byOtherContexts, 0, "no other context compiled any of them")
        XCTAssertLessThan(done.byOtherContexts, sizes.count, "this context compiled none of them")
        let y = try output.download(Float.self, count: sizes.count * n)
        let expected = Reference.reluForward(x)
        for k in sizes.indices { XCTAssertEqual(Array(y[(k * n)..<((k + 1) * n)]), expected, "workgroup size \(sizes[k])") }

        context.lastCompileAhead = nil
        try record().submit()
        XCTAssertNil(context.lastCompileAhead, "the same pipelines were compiled ahead again")

        // Pipelines created but never launched (a recorded plan) are not compiled by another sequence's launch.
        let unlaunched = try CommandSequence(context)
        for size: UInt32 in [19, 21, 23, 25] {
            let p = try context.pipeline("relu_forward", bindings: 2, pushSize: MemoryLayout<CountParams>.size, specialization: [size, 1])
            try unlaunched.dispatch(p, [input.floats(0, n), output.floats(0, n)], push: CountParams(count: UInt32(n)), invocations: n)
        }
        try record().submit()
        XCTAssertNil(context.lastCompileAhead, "a launch compiled pipelines it does not run")
        XCTAssertEqual(context.cacheLock.withLock { context.notYetRun.count }, 4, "the unlaunched pipelines are still waiting for their launch")
    }

    /// GALAXY_TRACE_PIPELINES=1 dispatches each new pipeline as `pipeline(...)` creates it, under the context's pipeline
    /// lock; that dispatch's launch takes the lock again (to look for pipelines to compile ahead). With a lock that
    /// cannot be taken twice every traced command hung at its first pipeline (found 2026-12-03). The creation runs on
    /// another thread here, so that a hang fails the test instead of stopping the suite.
    func testTracingAPipelineDispatchesItWithoutHanging() throws {
        let restore = setEnvironment(["GALAXY_TRACE_PIPELINES": "1"])
        defer { restore() }
        let context = try VulkanContext(validation: VulkanContext.validationRequested)
        let n = 1024
        let x = (0..<n).map { Float(($0 * 53) % 97) - 48.5 }
        let input = try DeviceBuffer(context, bytes: n * 4, label: "x", hostVisible: true)
        try input.upload(x)
        let output = try DeviceBuffer(context, bytes: n * 4, label: "y", hostVisible: true)
        try output.upload([Float](repeating: .nan, count: n))  // poisoned
        let created = LockedValue<Result<ComputePipeline, Error>?>(nil), done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let r = Result { try context.pipeline("relu_forward", bindings: 2, pushSize: MemoryLayout<CountParams>.size, specialization: [29, 1]) }
            created.mutate { $0 = r }
            done.signal()
        }
        guard done.wait(timeout: .now() + 120) == .success else {
            return XCTFail("creating a traced pipeline did not return within 120 s")
        }
        let p = try XCTUnwrap(created.mutate { $0 }).get()
        let seq = try CommandSequence(context)
        try seq.dispatch(p, [input.floats(0, n), output.floats(0, n)], push: CountParams(count: UInt32(n)), invocations: n)
        try seq.submit()
        XCTAssertEqual(try output.download(Float.self, count: n), Reference.reluForward(x))
    }
}
