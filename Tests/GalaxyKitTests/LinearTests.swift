import XCTest
@testable import GalaxyKit

final class LinearTests: GPUTestCase {
    /// Batch 1, sizes that are not multiples of the register blocks (portable 4x4; SHARE 64 rows x 64
    /// columns per workgroup, k in steps of 4 plus a scalar tail), the network's fc3, and fc1's features.
    static let shapes = SelfTest.linearShapes  // (`galaxy selftest` runs the same shapes)

    /// The device's own tiles, lavapipe's quick ones and the GPU paths (GPUTestSupport).
    var variants: [(String, Kernels)] { [("device", kernels)] + quickVariants() + gpuVariants() }

    func testLinearForwardMatchesReference() throws {
        for (i, s) in Self.shapes.enumerated() { var same = SameBits(); for (tag, kernels) in variants {
            let x = randomFloats(s.batch * s.inFeatures, seed: UInt64(10 + i))
            let w = randomFloats(s.outFeatures * s.inFeatures, seed: UInt64(20 + i))
            let b = randomFloats(s.outFeatures, seed: UInt64(30 + i))
            let (xb, wb, bb, yb) = (try input(x), try input(w), try input(b), try output(s.batch * s.outFeatures))
            try run { try kernels.linearForward($0, x: xb.whole, w: wb.whole, b: bb.whole, y: yb.whole, shape: s) }
            let want = Reference.linearForward(x.asDouble, w.asDouble, b.asDouble, s)
            let absRef = Reference.linearForward(x.asDouble.absolute, w.asDouble.absolute, b.asDouble.absolute, s)
            let got = try result(yb, s.batch * s.outFeatures)
            same.check(tag, got, "linear_forward \(s)")
            assertWithinBound(got, want, bound: sumBound(absRef, terms: s.inFeatures + 1), "linear_forward \(tag) \(s)")
        } }
    }

    func testLinearBackwardInputMatchesReference() throws {
        for (i, s) in Self.shapes.enumerated() { var same = SameBits(); for (tag, kernels) in variants {
            let dy = randomFloats(s.batch * s.outFeatures, seed: UInt64(40 + i))
            let w = randomFloats(s.outFeatures * s.inFeatures, seed: UInt64(50 + i))
            let (dyb, wb, dxb) = (try input(dy), try input(w), try output(s.batch * s.inFeatures))
            try run { try kernels.linearBackwardInput($0, dy: dyb.whole, w: wb.whole, dx: dxb.whole, shape: s) }
            let want = Reference.linearBackwardInput(dy.asDouble, w.asDouble, s)
            let absRef = Reference.linearBackwardInput(dy.asDouble.absolute, w.asDouble.absolute, s)
            let got = try result(dxb, s.batch * s.inFeatures)
            same.check(tag, got, "linear_backward_input \(s)")
            assertWithinBound(got, want, bound: sumBound(absRef, terms: s.outFeatures), "linear_backward_input \(tag) \(s)")
        } }
    }

    func testLinearBackwardWeightMatchesReference() throws {
        for (i, s) in Self.shapes.enumerated() { var (same, sameB) = (SameBits(), SameBits()); for (tag, kernels) in variants {
            let dy = randomFloats(s.batch * s.outFeatures, seed: UInt64(60 + i))
            let x = randomFloats(s.batch * s.inFeatures, seed: UInt64(70 + i))
            let (dyb, xb) = (try input(dy), try input(x))
            let (dwb, dbb) = (try output(s.outFeatures * s.inFeatures), try output(s.outFeatures))
            try run { try kernels.linearBackwardWeight($0, dy: dyb.whole, x: xb.whole, dw: dwb.whole, db: dbb.whole, shape: s) }
            let want = Reference.linearBackwardWeight(dy.asDouble, x.asDouble, s)
            let absRef = Reference.linearBackwardWeight(dy.asDouble.absolute, x.asDouble.absolute, s)
            let (dw, db) = (try result(dwb, s.outFeatures * s.inFeatures), try result(dbb, s.outFeatures))
            same.check(tag, dw, "linear_backward_weight dw \(s)")
            sameB.check(tag, db, "linear_backward_weight db \(s)")
            assertWithinBound(dw, want.dw, bound: sumBound(absRef.dw, terms: s.batch), "linear_backward_weight dw \(tag) \(s)")
            assertWithinBound(db, want.db, bound: sumBound(absRef.db, terms: s.batch), "linear_backward_weight db \(tag) \(s)")
        } }
    }

    /// RELU fuses the following ReLU: the reference layer, then max(., 0). Elements that the reference
    /// puts near 0 may land on either side in float32; the bound covers that, since |max(a,0) - max(b,0)| <= |a - b|.
    func testLinearForwardReluMatchesReference() throws {
        for (i, s) in Self.shapes.enumerated() { var same = SameBits(); for (tag, kernels) in variants {
            let x = randomFloats(s.batch * s.inFeatures, seed: UInt64(110 + i))
            let w = randomFloats(s.outFeatures * s.inFeatures, seed: UInt64(120 + i))
            let b = randomFloats(s.outFeatures, seed: UInt64(130 + i))
            let (xb, wb, bb, yb) = (try input(x), try input(w), try input(b), try output(s.batch * s.outFeatures))
            try run { try kernels.linearForward($0, x: xb.whole, w: wb.whole, b: bb.whole, y: yb.whole, shape: s, relu: true) }
            let want = Reference.reluForward(Reference.linearForward(x.asDouble, w.asDouble, b.asDouble, s))
            let absRef = Reference.linearForward(x.asDouble.absolute, w.asDouble.absolute, b.asDouble.absolute, s)
            let got = try result(yb, s.batch * s.outFeatures)
            same.check(tag, got, "linear_forward relu \(s)")
            XCTAssertFalse(got.contains { $0 < 0 }, "linear_forward relu \(tag) \(s): a negative output")
            XCTAssertTrue(got.contains { $0 > 0 } && got.contains { $0 == 0 } || got.count < 4, "linear_forward relu \(tag) \(s): inputs should give both signs")
            assertWithinBound(got, want, bound: sumBound(absRef, terms: s.inFeatures + 1), "linear_forward relu \(tag) \(s)")
        } }
    }
}
