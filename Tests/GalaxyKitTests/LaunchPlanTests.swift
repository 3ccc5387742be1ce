import XCTest
@testable import GalaxyKit

/// The launch plan of the GPU configuration at batch 128 (recorded on lavapipe, not run): every
/// dispatch of over 10^7 multiply-adds gives a GPU at least 16,384 invocations, none of which sums more
/// than 2^17 multiply-adds in series (issue 10's bounds for a 132-multiprocessor GPU).
final class LaunchPlanTests: GPUTestCase {
    func testGPUConfigurationGivesEnoughParallelWork() throws {
        let plan = try Benchmark.launchPlan(context: context, path: .sharedMemory(), config: "gpu", batch: 128)
        let workgroup = Int(Kernels(context, path: .sharedMemory()).path.workgroupSize)
        XCTAssertEqual(workgroup, 256, "lavapipe allows the GPU configuration's 256-invocation workgroups")
        for (pass, dispatches) in [("train", plan.train.dispatches), ("inference", plan.inference.dispatches)] {
            XCTAssertGreaterThan(dispatches.filter { $0.macs > 10_000_000 }.count, pass == "train" ? 10 : 4, "\(pass): the big dispatches are counted")
            for d in dispatches where d.macs > 10_000_000 {
                XCTAssertGreaterThanOrEqual(d.invocations, 16_384, "\(pass) \(d.name): \(d.invocations) invocations for \(d.macs) MACs")
                XCTAssertLessThanOrEqual(d.macsPerInvocation, 1 << 17, "\(pass) \(d.name): \(d.macsPerInvocation) MACs per invocation")
            }
            for d in dispatches { XCTAssertGreaterThanOrEqual(d.workgroups * workgroup, d.invocations, "\(pass) \(d.name): workgroups cover the invocations") }
            // The split reductions (the convolutions' weight gradients) also fill a large GPU with workgroups.
            for d in dispatches where d.name.hasPrefix("conv2d_backward_weight") {
                XCTAssertGreaterThanOrEqual(d.workgroups, SharedMemoryTiles().bounds.minWorkgroups, "\(pass) \(d.name): \(d.workgroups) workgroups")
            }
        }
        // The plan's multiply-adds are the network's: forward 3x (forward, two backward GEMMs but conv1's input gradient).
        let forward = SanderDielemanNet.forwardMACs(outputs: 37) * 128
        let inference = plan.inference.dispatches.reduce(0) { $0 + $1.macs }
        XCTAssertEqual(inference, forward)
        print("GPU plan: \(plan.train.dispatches.count) training dispatches, scratch \(plan.scratchBytes) bytes")
    }

    /// Kernels.tiledPlan: a split sum gets the chunks asked for (whole stages of k where it can), an unsplit
    /// one none; blocks shrink to a small C; both tiles of a stage fit the device's shared memory.
    func testTiledPlanRules() throws {
        var few = SharedMemoryTiles()
        (few.bounds.minInvocations, few.bounds.minWorkgroups, few.columnBlock) = (64, 5, 4)
        let k = Kernels(context, path: .sharedMemory(few))
        // conv2d_backward_weight of Conv2dTests' batch-5 shape: C is 32 x 108 (2 workgroups), k = 5 * 16 * 16.
        let split = k.tiledPlan(m: 32, n: 108, k: 1280, splittable: true)
        XCTAssertEqual(split.chunks, 4, "ceil(5 / 2) = 3 chunks wanted, of 427 steps, rounded to 26 stages of 16: 4 chunks")
        XCTAssertEqual(split.spec.kChunk, 416)
        XCTAssertEqual(split.invocations, 2 * 4 * 256)
        let whole = k.tiledPlan(m: 32, n: 108, k: 1280, splittable: false)
        XCTAssertEqual(whole.chunks, 1)
        XCTAssertEqual(whole.spec.kChunk, 0)
        let gpu = Kernels(context, path: .sharedMemory())
        let small = gpu.tiledPlan(m: 5, n: 7, k: 100, splittable: false)
        XCTAssertEqual([small.spec.mb, small.spec.nc], [1, 1], "a 16 x 16 tile for a 5 x 7 C")
        let big = gpu.tiledPlan(m: 64, n: 100_352, k: 800, splittable: false)  // conv2's forward pass at batch 128
        XCTAssertEqual([big.spec.mb, big.spec.nc, big.spec.tc], [4, 8, 16])
        let limit = Int(context.limits.maxComputeSharedMemorySize)
        for p in [split, whole, small, big] {
            let (tc, mb, nc, bk) = (Int(p.spec.tc), Int(p.spec.mb), Int(p.spec.nc), Int(p.spec.bk))
            let tr = 256 / tc  // both configurations' workgroups: 256 invocations
            XCTAssertLessThanOrEqual((tr * mb + tc * nc) * bk * 4, limit, "both tiles of a stage in shared memory")
            XCTAssertTrue(p.spec.tiled)
        }
    }
}
