import XCTest
@testable import GalaxyKit

final class Conv2dTests: GPUTestCase {
    /// Batch 1, odd sizes, channel counts that are not multiples of the register blocks, and
    /// output widths that are not multiples of the column block; kernels 6, 5 and 3 as in the network.
    static let shapes = SelfTest.conv2dShapes  // (`galaxy selftest` runs the same shapes)

    /// The device's own tiles, lavapipe's quick ones, the portable and GPU paths (GPUTestSupport.gpuVariants),
    /// plus the GPU path's weight-gradient sum split into a few chunks of k (at least 5 workgroups: 3 to 5
    /// chunks at most shapes here), whose last stage is a partial one, on 4 x 4 blocks (the defaults are 4 x 8).
    var variants: [(String, Kernels)] {
        var few = SharedMemoryTiles()
        (few.bounds.minInvocations, few.bounds.minWorkgroups, few.columnBlock) = (64, 5, 4)
        let extra = gpuVariants().isEmpty ? [] : [("gpu few chunks", Kernels(context, path: .sharedMemory(few)))]
        return [("device", kernels)] + quickVariants() + gpuVariants() + extra
    }

    func testConv2dForwardMatchesReference() throws {
        try checkForward(relu: false)
    }

    /// The fused ReLU: max(., 0) is 1-Lipschitz, so the unfused bound still holds.
    func testConv2dForwardReluMatchesReference() throws {
        try checkForward(relu: true)
    }

    private func checkForward(relu: Bool) throws {
        for (i, s) in Self.shapes.enumerated() { var same = SameBits(); for (tag, kernels) in variants {
            let x = randomFloats(s.inputCount, seed: UInt64(100 + i))
            let w = randomFloats(s.weightCount, seed: UInt64(200 + i))
            let b = randomFloats(s.outChannels, seed: UInt64(300 + i))
            let (xb, wb, bb, yb) = (try input(x), try input(w), try input(b), try output(s.outputCount))
            try run { try kernels.conv2dForward($0, x: xb.whole, w: wb.whole, b: bb.whole, y: yb.whole, shape: s, relu: relu) }
            let got = try result(yb, s.outputCount)
            same.check(tag, got, "conv2d_forward \(s)")
            let linear = Reference.conv2dForward(x.asDouble, w.asDouble, b.asDouble, s)
            let want = relu ? Reference.reluForward(linear) : linear
            let absRef = Reference.conv2dForward(x.asDouble.absolute, w.asDouble.absolute, b.asDouble.absolute, s)
            assertWithinBound(got, want, bound: sumBound(absRef, terms: s.inChannels * s.kernel * s.kernel + 1),
                              "conv2d_forward\(relu ? " relu" : "") \(tag) \(s)")
            if relu { XCTAssertFalse(got.contains { $0 < 0 }, "conv2d_forward relu \(tag) \(s): a negative output") }
        } }
    }

    func testConv2dBackwardInputMatchesReference() throws {
        for (i, s) in Self.shapes.enumerated() { var same = SameBits(); for (tag, kernels) in variants {
            let dy = randomFloats(s.outputCount, seed: UInt64(400 + i))
            let w = randomFloats(s.weightCount, seed: UInt64(500 + i))
            let (dyb, wb, dxb) = (try input(dy), try input(w), try output(s.inputCount))
            try run { try kernels.conv2dBackwardInput($0, dy: dyb.whole, w: wb.whole, dx: dxb.whole, shape: s) }
            let got = try result(dxb, s.inputCount)
            same.check(tag, got, "conv2d_backward_input \(s)")
            let want = Reference.conv2dBackwardInput(dy.asDouble, w.asDouble, s)
            let absRef = Reference.conv2dBackwardInput(dy.asDouble.absolute, w.asDouble.absolute, s)
            assertWithinBound(got, want, bound: sumBound(absRef, terms: s.outChannels * s.kernel * s.kernel), "conv2d_backward_input \(tag) \(s)")
        } }
    }

    func testConv2dBackwardWeightMatchesReference() throws {
        for (i, s) in Self.shapes.enumerated() { var (sameW, sameB) = (SameBits(), SameBits()); for (tag, kernels) in variants {
            let dy = randomFloats(s.outputCount, seed: UInt64(600 + i))
            let x = randomFloats(s.inputCount, seed: UInt64(700 + i))
            let (dyb, xb, dwb, dbb) = (try input(dy), try input(x), try output(s.weightCount), try output(s.outChannels))
            try run { try kernels.conv2dBackwardWeight($0, dy: dyb.whole, x: xb.whole, dw: dwb.whole, db: dbb.whole, shape: s) }
            let want = Reference.conv2dBackwardWeight(dy.asDouble, x.asDouble, s)
            let absRef = Reference.conv2dBackwardWeight(dy.asDouble.absolute, x.asDouble.absolute, s)
            let terms = s.batch * s.outHeight * s.outWidth
            let (dw, db) = (try result(dwb, s.weightCount), try result(dbb, s.outChannels))
            sameW.check(tag, dw, "conv2d_backward_weight dw \(s)")
            sameB.check(tag, db, "conv2d_backward_weight db \(s)")
            assertWithinBound(dw, want.dw, bound: sumBound(absRef.dw, terms: terms), "conv2d_backward_weight dw \(tag) \(s)")
            assertWithinBound(db, want.db, bound: sumBound(absRef.db, terms: terms), "conv2d_backward_weight db \(tag) \(s)")
        } }
    }
}
