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
    /// float32-through-8-layers argument as TorchGoldenTests, for the gradients (sums of up to 524k terms in
    /// the weight gradients). The output is tighter: 2e-5 of its scale, float32's rounding through the forward
    /// pass (CLITests.testPyTorchWeightsPredictPyTorchOutputs derives it). In the softplus form each row keeps
    /// the tree rule within 64u = 3.8e-6 (ConstrainedOutputTests.testConstrainedOutputSatisfiesTheDecisionTree
    /// derives it for fc3 outputs within 5.75 of 0 or in the tail, as this init's are).
    private func check(batch b: Int, outputMode: OutputMode) throws {
        let (out, errors) = try SelfTest(context: context).networkErrors(smallJobKernels, batch: b, outputMode: outputMode)
        XCTAssertEqual(errors.count, 1 + ModelWeights(outputs: 37, seed: 8).names.count)
        for (name, error) in errors { XCTAssertLessThan(error, name == "output" ? 2e-5 : 1e-4, "\(name) at batch \(b)") }
        XCTAssertEqual(errors.filter { $0.0 == "output" }.count, 1, "the output's error is not among \(errors.map(\.0))")
        print("\(outputMode) batch \(b): output error \(errors.first { $0.0 == "output" }!.1), worst "
              + errors.sorted { $0.1 > $1.1 }.prefix(3).map { "\($0.0) \($0.1)" }.joined(separator: ", "))
        if outputMode == .constrained {  // the strict tree rule holds only for the softplus form
            let violations = (0..<b).map { GalaxyZooTree.treeSumViolation(out[$0 * 37..<($0 + 1) * 37]) }
            print("tree-sum violations \(violations)")
            for v in violations { XCTAssertLessThanOrEqual(v, Float(64 * 0x1p-24)) }
        }
    }
}
