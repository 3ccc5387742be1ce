import XCTest
@testable import GalaxyKit

/// Central finite differences in Float64 for every backward function of the CPU reference.
/// For a forward f and a random cotangent r, the scalar L(x) = <r, f(x)> has dL/dx = backward(r);
/// each derivative is compared with (L(x+h) - L(x-h)) / 2h.
final class GradientCheckTests: XCTestCase {
    /// With h = 1e-5 on values of order 1, the truncation error (h^2 f''') is ~1e-10 for these
    /// (piecewise) polynomial ops and the rounding error ~1e-16/h = 1e-11; 1e-7 relative leaves margin.
    static let h = 1e-5
    static let tolerance = 1e-7

    private func doubles(_ n: Int, seed: UInt64) -> [Double] { randomFloats(n, seed: seed).asDouble }

    private func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    /// Checks analytic[i] against the numerical derivative of `loss` wrt `x[i]` for every i.
    private func check(_ what: String, _ x: [Double], analytic: [Double], loss: ([Double]) -> Double,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(x.count, analytic.count, what, file: file, line: line)
        for i in x.indices {
            var plus = x, minus = x
            plus[i] += Self.h
            minus[i] -= Self.h
            let numeric = (loss(plus) - loss(minus)) / (2 * Self.h)
            let err = abs(numeric - analytic[i]) / max(1, abs(numeric))
            if err > Self.tolerance {
                XCTFail("\(what)[\(i)]: analytic \(analytic[i]) numeric \(numeric)", file: file, line: line)
                return
            }
        }
    }

    func testConv2dBackwardByFiniteDifferences() {
        let s = Conv2dShape(batch: 2, inChannels: 2, outChannels: 3, inHeight: 6, inWidth: 5, kernel: 3)
        let x = doubles(s.inputCount, seed: 1), w = doubles(s.weightCount, seed: 2), b = doubles(s.outChannels, seed: 3)
        let r = doubles(s.outputCount, seed: 4)
        check("conv2dBackwardInput", x, analytic: Reference.conv2dBackwardInput(r, w, s)) { dot(r, Reference.conv2dForward($0, w, b, s)) }
        let grads = Reference.conv2dBackwardWeight(r, x, s)
        check("conv2dBackwardWeight dw", w, analytic: grads.dw) { dot(r, Reference.conv2dForward(x, $0, b, s)) }
        check("conv2dBackwardWeight db", b, analytic: grads.db) { dot(r, Reference.conv2dForward(x, w, $0, s)) }
    }

    func testLinearBackwardByFiniteDifferences() {
        let s = LinearShape(batch: 3, inFeatures: 7, outFeatures: 5)
        let x = doubles(s.batch * s.inFeatures, seed: 5), w = doubles(s.outFeatures * s.inFeatures, seed: 6)
        let b = doubles(s.outFeatures, seed: 7), r = doubles(s.batch * s.outFeatures, seed: 8)
        check("linearBackwardInput", x, analytic: Reference.linearBackwardInput(r, w, s)) { dot(r, Reference.linearForward($0, w, b, s)) }
        let grads = Reference.linearBackwardWeight(r, x, s)
        check("linearBackwardWeight dw", w, analytic: grads.dw) { dot(r, Reference.linearForward(x, $0, b, s)) }
        check("linearBackwardWeight db", b, analytic: grads.db) { dot(r, Reference.linearForward(x, w, $0, s)) }
    }

    func testMaxpool2dBackwardByFiniteDifferences() {
        // Distinct random values: with h far below the gap between window entries, the argmax is stable.
        let s = PoolShape(planes: 3, height: 5, width: 6)
        let x = doubles(s.inputCount, seed: 9), r = doubles(s.outputCount, seed: 10)
        let index = Reference.maxpool2dForward(x, s).index
        check("maxpool2dBackward", x, analytic: Reference.maxpool2dBackward(r, index, s)) { dot(r, Reference.maxpool2dForward($0, s).y) }
    }

    func testReluBackwardByFiniteDifferences() {
        // Keep inputs away from the kink at 0, where ReLU has no derivative.
        let x = doubles(50, seed: 11).map { $0 + ($0 >= 0 ? 0.01 : -0.01) }, r = doubles(50, seed: 12)
        check("reluBackward", x, analytic: Reference.reluBackward(Reference.reluForward(x), r)) { dot(r, Reference.reluForward($0)) }
    }

    func testMseBackwardByFiniteDifferences() {
        let p = doubles(37, seed: 13), t = doubles(37, seed: 14)
        check("mseBackward", p, analytic: Reference.mseBackward(p, t)) { Reference.mseForward($0, t) / Double(p.count) }
        check("mseBackward over a larger denominator", p, analytic: Reference.mseBackward(p, t, denominator: 3 * p.count)) { Reference.mseForward($0, t) / Double(3 * p.count) }
    }
}
