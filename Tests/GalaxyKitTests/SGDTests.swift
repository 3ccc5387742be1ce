import XCTest
@testable import GalaxyKit

final class SGDTests: GPUTestCase {
    func testSgdMomentumMatchesReference() throws {
        for (i, n) in [1, 100, 3457].enumerated() {
            var w = randomFloats(n, seed: UInt64(71 + i)).asDouble
            var buf = [Double](repeating: 0, count: n)
            let (wb, bb) = (try input(w.map(Float.init)), try input([Float](repeating: 0, count: n)))
            var gpuW: [Float] = []
            for step in 0..<3 {
                let g = randomFloats(n, seed: UInt64(1000 * step + i))
                let gbuf = try input(g)
                try run { try kernels.sgdMomentum($0, weights: wb.floats(0, n), grads: gbuf.floats(0, n), buffer: bb.floats(0, n), count: n, lr: 0.1, momentum: 0.9) }
                Reference.sgdMomentum(weights: &w, grads: g.asDouble, buffer: &buf, lr: Double(Float(0.1)), momentum: Double(Float(0.9)))
                gpuW = try result(wb, n)
            }
            // Three steps, each a few roundings of values of the size of |w| + lr*|buf|: 16u of that is generous and still tight.
            let scale = zip(w, buf).map { abs($0) + 0.1 * abs($1) + 1 }
            assertWithinBound(gpuW, w, bound: scale.map { 16 * 0x1p-24 * $0 }, "sgd_momentum \(n)")
        }
    }
}
