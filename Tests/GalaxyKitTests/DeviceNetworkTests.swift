import XCTest
@testable import GalaxyKit

/// The device network against the CPU reference network, in the output mode PyTorch's golden file
/// does not cover (TorchGoldenTests covers the seed's ReLU output).
final class DeviceNetworkTests: GPUTestCase {
    func testConstrainedOutputNetworkMatchesReference() throws {
        try check(batch: 2, outputMode: .constrained)
    }

    /// The first constrained form, which checkpoints from before the softplus form still predict with.
    func testConstrainedReLUOutputNetworkMatchesReference() throws {
        try check(batch: 2, outputMode: .constrainedReLU)
    }

    /// A batch larger than the golden file's 4 and odd, so the kernels' batch-spanning tiles are crossed.
    func testReluNetworkMatchesReferenceAtAnOddBatch() throws {
        try check(batch: 5, outputMode: .relu)
    }

    /// SelfTest.networkErrors (which `galaxy selftest` runs too): 1e-4 of each tensor's scale, the same
    /// float32-through-8-layers argument as TorchGoldenTests.
    private func check(batch b: Int, outputMode: OutputMode) throws {
        let (out, errors) = try SelfTest(context: context).networkErrors(smallJobKernels, batch: b, outputMode: outputMode)
        XCTAssertEqual(errors.count, 1 + ModelWeights(outputs: 37, seed: 8).names.count)
        for (name, error) in errors { XCTAssertLessThan(error, 1e-4, "\(name) at batch \(b)") }
        if outputMode == .constrained {  // the strict tree rule holds only for the softplus form
            for row in 0..<b { XCTAssertLessThan(GalaxyZooTree.treeSumViolation(out[row * 37..<(row + 1) * 37]), 1e-5) }
        }
    }
}
