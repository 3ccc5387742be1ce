import XCTest
@testable import GalaxyKit

final class AdamTests: GPUTestCase {
    /// Three Adam steps on guarded (poisoned around) buffers against Reference.adam: the weights, both moments
    /// and the step's scalars.
    func testAdamMatchesReference() throws {
        let settings = AdamSettings()
        for (i, n) in [1, 100, 3457].enumerated() {
            let lr: Float = i == 1 ? 0.01 : 0.001
            var w = randomFloats(n, seed: UInt64(171 + i)).asDouble
            var (m, v) = ([Double](repeating: 0, count: n), [Double](repeating: 0, count: n))
            var s = Reference.adamInitialScalars
            let (wb, mb, vb) = (try input(w.map(Float.init), "weights"), try input([Float](repeating: 0, count: n), "first"),
                                try input([Float](repeating: 0, count: n), "second"))
            let sb = try input(s, "scalars")
            var moved = [Double](repeating: 0, count: n)
            for step in 0..<3 {
                let g = randomFloats(n, seed: UInt64(2000 * step + i))
                let gb = try input(g, "grads")
                try run { try kernels.adam($0, weights: wb.whole, grads: gb.whole, first: mb.whole, second: vb.whole, scalars: sb.whole,
                                           count: n, lr: lr, settings: settings) }
                let before = w
                Reference.adam(weights: &w, grads: g.asDouble, first: &m, second: &v, scalars: &s, lr: lr, settings: settings)
                for j in 0..<n { moved[j] += abs(w[j] - before[j]) }
            }
            // The powers are correctly rounded products, the same on both sides; the step size and the correction
            // are a quotient and a square root of them (Vulkan: 2.5 and at most 3 units in the last place).
            let gotS = try result(sb, 4)
            XCTAssertEqual(gotS[0].bitPattern, s[0].bitPattern, "beta1^3")
            XCTAssertEqual(gotS[1].bitPattern, s[1].bitPattern, "beta2^3")
            assertWithinBound(Array(gotS[2...]), s[2...].map(Double.init), bound: s[2...].map { 4 * 0x1p-24 * Double($0) }, "adam scalars \(n)")
            // A step's first moment rounds g - m (of size |g| + |m|), its product with 1 - beta1 and the sum (of size |m|);
            // the second moment rounds beta2 v and the sum (|v|), and g g and its product with 1 - beta2 ((1 - beta2) g^2).
            // Per step 2 units of those sizes at most; 8 units over the 3 steps, the earlier errors shrinking by beta.
            let gs = (0..<3).map { randomFloats(n, seed: UInt64(2000 * $0 + i)).asDouble.absolute }
            let firstScale = (0..<n).map { j in abs(m[j]) + 0.1 * gs.map { $0[j] }.reduce(0, +) }
            let secondScale = (0..<n).map { j in abs(v[j]) + 0.001 * gs.map { $0[j] * $0[j] }.reduce(0, +) }
            assertWithinBound(try result(mb, n), m, bound: firstScale.map { 8 * 0x1p-24 * $0 }, "adam first moment \(n)")
            assertWithinBound(try result(vb, n), v, bound: secondScale.map { 8 * 0x1p-24 * $0 }, "adam second moment \(n)")
            // A weight's update passes through about 10 roundings (the moments' errors, a square root, two quotients,
            // the step size's own, a product): 64 units of the distance moved over the steps, plus a rounding of |w| each step.
            assertWithinBound(try result(wb, n), w, bound: zip(w, moved).map { 4 * 0x1p-24 * abs($0) + 64 * 0x1p-24 * $1 }, "adam weights \(n)")
        }
    }

    /// The reference's first step moves each weight by about lr against its gradient's sign (m / sqrt(v) = g / |g|).
    func testTheFirstStepMovesEveryWeightByAboutTheLearningRate() {
        var w: [Double] = [0.5, -0.25, 2], m = [Double](repeating: 0, count: 3), v = m
        var s = Reference.adamInitialScalars
        Reference.adam(weights: &w, grads: [0.3, -2, 1e-3], first: &m, second: &v, scalars: &s, lr: 0.01, settings: AdamSettings())
        for (got, want) in zip(w, [0.49, -0.24, 1.99]) { XCTAssertEqual(got, want, accuracy: 1e-6) }
    }
}
