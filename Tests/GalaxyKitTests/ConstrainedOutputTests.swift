import XCTest
@testable import GalaxyKit

final class ConstrainedOutputTests: GPUTestCase {
    /// 70 rows: more than one 64-wide workgroup and not a multiple of it.
    static let batches = [1, 3, 70]
    static let width = GalaxyZooTree.answerCount
    static let u = 0x1p-24

    /// Float32 error bound of the forward, relative to p. Per question level: summing up to 7
    /// non-negative answers (6 roundings), adding eps (1), the division (Vulkan allows 2.5 ulp: 3)
    /// and the product with the parent (1) give at most 11u, and relative errors of a product of
    /// positive factors add. The deepest chain, Q1 -> Q2 -> Q4 -> Q10/Q11, has 4 levels: 44u; 48u.
    /// (Where float32 rounds eps away the Float64 reference keeps it, a difference below that rounding.)
    static func forwardBound(_ p: [Double]) -> [Double] { p.map { 48 * u * $0 + Double.leastNormalMagnitude } }

    /// Float32 error bound of the backward: K u times the backward evaluated on magnitudes (|dp|, and
    /// the subtraction dn_i - dot made an addition), which bounds every partial sum's rounding despite
    /// cancellation. K counts roundings along the longest path, dp of Q10/Q11 -> column 7 -> column 4
    /// -> column 1 -> dz of Q1: each hop multiplies by n (10u) and sums up to 10 terms (9u), ~20u a
    /// hop, ~52u at column 1; then Q1's dot (3 terms), the subtraction and the division by s: ~72u. 96u.
    static func backwardBound(_ z: [Double], _ dp: [Double], batch: Int) -> [Double] {
        let tree = GalaxyZooTree.self
        var bound = [Double](repeating: Double.leastNormalMagnitude, count: z.count)
        for b in 0..<batch {
            let base = b * width
            let (n, s, p) = Reference.constrainedOutputRow(z[base ..< base + width])
            var g = dp[base ..< base + width].map(abs)
            for q in tree.scalingOrder.reversed() {
                let parent = tree.parentColumn[q]!
                for c in tree.questionRanges[q] {
                    g[parent] += g[c] * n[c]
                    g[c] *= p[parent]
                }
            }
            for (q, range) in tree.questionRanges.enumerated() {
                let dot = range.reduce(0.0) { $0 + g[$1] * n[$1] }
                for c in range where z[base + c] > 0 { bound[base + c] += 96 * u * (g[c] + dot) / s[q] }
            }
        }
        return bound
    }

    func testConstrainedOutputForwardMatchesReference() throws {
        var worst = 0.0
        for (i, batch) in Self.batches.enumerated() {
            let z = randomFloats(batch * Self.width, seed: UInt64(100 + i))  // about half the answers <= 0
            let (zb, pb) = (try input(z), try output(z.count))
            try run { try kernels.constrainedOutputForward($0, z: zb.whole, p: pb.whole, batch: batch) }
            let want = Reference.constrainedOutputForward(z.asDouble, batch: batch)
            worst = max(worst, assertWithinBound(try result(pb, z.count), want, bound: Self.forwardBound(want),
                                                 "constrained_output_forward batch \(batch)"))
        }
        print("constrained_output_forward: worst error / bound = \(worst)")
    }

    func testConstrainedOutputBackwardMatchesReference() throws {
        var worst = 0.0
        for (i, batch) in Self.batches.enumerated() {
            let z = randomFloats(batch * Self.width, seed: UInt64(200 + i))
            let dp = randomFloats(batch * Self.width, seed: UInt64(300 + i))
            let (zb, dpb, dzb) = (try input(z), try input(dp), try output(z.count))
            try run { try kernels.constrainedOutputBackward($0, z: zb.whole, dp: dpb.whole, dz: dzb.whole, batch: batch) }
            let want = Reference.constrainedOutputBackward(z.asDouble, dp.asDouble, batch: batch)
            let bound = Self.backwardBound(z.asDouble, dp.asDouble, batch: batch)
            worst = max(worst, assertWithinBound(try result(dzb, z.count), want, bound: bound, "constrained_output_backward batch \(batch)"))
        }
        print("constrained_output_backward: worst error / bound = \(worst)")
    }

    func testConstrainedOutputSatisfiesTheDecisionTree() throws {
        // Every question gets a positive answer, the condition under which the tree sums hold
        // (a question with all answers <= 0 outputs zeros whatever its parent's value).
        let batch = 70
        var z = randomFloats(batch * Self.width, seed: 400)
        for b in 0..<batch {
            for range in GalaxyZooTree.questionRanges { z[b * Self.width + range.lowerBound] = abs(z[b * Self.width + range.lowerBound]) + 0.01 }
        }
        let (zb, pb) = (try input(z), try output(z.count))
        try run { try kernels.constrainedOutputForward($0, z: zb.whole, p: pb.whole, batch: batch) }
        let gpu = try result(pb, z.count)
        let cpu = Reference.constrainedOutputForward(z, batch: batch)
        // A question's outputs are n_i * P with the stored parent P <= 1, and the n_i share one
        // rounded denominator, so sum n_i is 1 within about 10u (sum rounding of s, eps, 3u for the
        // division); the products (1u) and treeSumViolation's own float32 sum of up to 7 terms (6u)
        // add 7u: |sum - P| <= 17u. Tolerance 24u.
        let tolerance = Float(24 * Self.u)
        var worst: Float = 0
        for b in 0..<batch {
            let row = b * Self.width ..< (b + 1) * Self.width
            for (what, values) in [("gpu", gpu), ("reference", cpu)] {
                let violation = GalaxyZooTree.treeSumViolation(values[row])
                worst = max(worst, violation)
                XCTAssertLessThanOrEqual(violation, tolerance, "\(what) row \(b)")
            }
        }
        print("constrained output: worst tree-sum violation \(worst) (tolerance \(tolerance))")
    }

    /// Central finite differences in Float64 of L(z) = <r, forward(z)>, whose gradient is backward(z, r).
    /// z is kept at least 0.1 from 0, so max(., 0) is smooth nearby and every non-empty question sum
    /// is >= 0.1: third derivatives of a_i / s stay below ~10^3, so with h = 1e-6 the truncation error
    /// (h^2 f''' / 6) is ~1e-10 and the rounding error (1e-16 |L| / h, |L| < 40) ~4e-9.
    func testConstrainedOutputBackwardByFiniteDifferences() {
        let batch = 3, h = 1e-6
        let z = randomFloats(batch * Self.width, seed: 500).map { Double($0) + ($0 >= 0 ? 0.1 : -0.1) }
        let r = randomFloats(batch * Self.width, seed: 501).asDouble
        let analytic = Reference.constrainedOutputBackward(z, r, batch: batch)
        func loss(_ z: [Double]) -> Double { zip(r, Reference.constrainedOutputForward(z, batch: batch)).reduce(0) { $0 + $1.0 * $1.1 } }
        var worst = 0.0
        for i in z.indices {
            var plus = z, minus = z
            plus[i] += h
            minus[i] -= h
            let numeric = (loss(plus) - loss(minus)) / (2 * h)
            let err = abs(numeric - analytic[i]) / max(1, abs(numeric))
            worst = max(worst, err)
            XCTAssertLessThanOrEqual(err, 1e-7, "constrainedOutputBackward[\(i)]: analytic \(analytic[i]) numeric \(numeric)")
        }
        XCTAssertTrue(analytic.contains { $0 != 0 } && analytic.contains { $0 == 0 }, "both branches of max(., 0) exercised")
        print("constrainedOutputBackward finite differences: worst relative error \(worst)")
    }
}
