import XCTest
@testable import GalaxyKit

/// The launch plan of the GPU configuration at batch 128 (recorded on lavapipe, not run): every
/// dispatch of over 10^7 multiply-adds gives a GPU at least 16,384 invocations, none of which sums more
/// than 2^17 multiply-adds in series (issue 10's bounds for a 132-multiprocessor GPU).
final class LaunchPlanTests: GPUTestCase {
    func testGPUConfigurationGivesEnoughParallelWork() throws {
        let plan = try Benchmark.launchPlan(context: context, tiles: .gpu, config: "gpu", batch: 128)
        let workgroup = Int(Kernels(context, tiles: .gpu).tiles.workgroupSize)
        XCTAssertEqual(workgroup, 256, "lavapipe allows the GPU configuration's 256-invocation workgroups")
        for (pass, dispatches) in [("train", plan.train.dispatches), ("inference", plan.inference.dispatches)] {
            XCTAssertGreaterThan(dispatches.filter { $0.macs > 10_000_000 }.count, pass == "train" ? 10 : 4, "\(pass): the big dispatches are counted")
            for d in dispatches where d.macs > 10_000_000 {
                XCTAssertGreaterThanOrEqual(d.invocations, 16_384, "\(pass) \(d.name): \(d.invocations) invocations for \(d.macs) MACs")
                XCTAssertLessThanOrEqual(d.macsPerInvocation, 1 << 17, "\(pass) \(d.name): \(d.macsPerInvocation) MACs per invocation")
            }
            for d in dispatches { XCTAssertGreaterThanOrEqual(d.workgroups * workgroup, d.invocations, "\(pass) \(d.name): workgroups cover the invocations") }
        }
        // The plan's multiply-adds are the network's: forward 3x (forward, two backward GEMMs but conv1's input gradient).
        let forward = SanderDielemanNet.forwardMACs(outputs: 37) * 128
        let inference = plan.inference.dispatches.reduce(0) { $0 + $1.macs }
        XCTAssertEqual(inference, forward)
        print("GPU plan: \(plan.train.dispatches.count) training dispatches, scratch \(plan.scratchBytes) bytes")
    }

}
