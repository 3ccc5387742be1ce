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

    private func check(batch b: Int, outputMode: OutputMode) throws {
        let weights = ModelWeights(outputs: 37, seed: 8)
        let x = randomFloats(b * SanderDielemanNet.inputCount, seed: 1, -2, 2)
        let t = randomFloats(b * 37, seed: 2, 0, 0.5)
        let net = try DeviceNetwork(kernels: smallJobKernels, outputs: 37, maxBatch: b, training: true, outputMode: outputMode)
        try net.setWeights(weights)
        try net.input.upload(x)
        try net.target.upload(t)
        let seq = try CommandSequence(context)
        try net.recordForward(seq, batch: b)
        try net.recordBackward(seq, batch: b)
        try seq.submit()
        let ref = ReferenceNetwork<Double>(weights, outputMode: outputMode)
        let acts = ref.forward(x.asDouble, batch: b)
        let grads = ref.backward(acts, target: t.asDouble, batch: b)
        let out: [Float] = try net.output.download(count: b * 37)
        // Same float32-through-8-layers argument as TorchGoldenTests: 1e-4 of each tensor's scale.
        func relative(_ got: [Float], _ want: [Double]) -> Double {
            zip(got, want).map { abs(Double($0) - $1) }.max()! / max(want.map(abs).max()!, .leastNormalMagnitude)
        }
        XCTAssertLessThan(relative(out, acts.output), 1e-4)
        if outputMode == .constrained {  // the strict tree rule holds only for the softplus form
            for row in 0..<b { XCTAssertLessThan(GalaxyZooTree.treeSumViolation(out[row * 37..<(row + 1) * 37]), 1e-5) }
        }
        let got = try net.gradients()
        for name in weights.names {
            XCTAssertLessThan(relative(got[name]!, grads[name]!), 1e-4, "\(name) at batch \(b)")
        }
    }
}
