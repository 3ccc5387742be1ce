import XCTest
@testable import GalaxyKit

final class MSETests: GPUTestCase {
    static let counts = [1, 37, 148, 4736, 10007]

    func testMseForwardMatchesReference() throws {
        for (i, n) in Self.counts.enumerated() {
            let p = randomFloats(n, seed: UInt64(31 + i), 0, 1)
            let t = randomFloats(n, seed: UInt64(41 + i), 0, 1)
            let (pb, tb, lb) = (try input(p), try input(t), try output(3, "loss"))
            try run { try kernels.mseForward($0, pred: pb.whole, target: tb.whole, loss: lb.whole, count: n, slot: 1) }
            let got: [Float] = try lb.download(count: 3)
            XCTAssertEqual(got[0].bitPattern, Self.poison.bitPattern, "slot 0 must be untouched")
            XCTAssertEqual(got[2].bitPattern, Self.poison.bitPattern, "slot 2 must be untouched")
            let want = Reference.mseForward(p.asDouble, t.asDouble)
            // Each square is exact to 2u relative, then a sum of n non-negative terms: (n+2)u * sum.
            assertWithinBound([got[1]], [want], bound: sumBound([want], terms: n + 2), "mse_forward \(n)")
        }
    }

    func testMseForwardAccumulates() throws {
        let p = randomFloats(100, seed: 3), t = randomFloats(100, seed: 4)
        let (pb, tb, lb) = (try input(p), try input(t), try input([0.5]))
        try run {
            try kernels.mseForward($0, pred: pb.whole, target: tb.whole, loss: lb.whole, count: 100, accumulate: true)
            try kernels.mseForward($0, pred: pb.whole, target: tb.whole, loss: lb.whole, count: 100, accumulate: true)
        }
        let want = 0.5 + 2 * Reference.mseForward(p.asDouble, t.asDouble)
        assertWithinBound(try result(lb, 1), [want], bound: sumBound([want], terms: 206), "mse_forward accumulate")
    }

    func testMseBackwardMatchesReference() throws {
        for (i, n) in Self.counts.enumerated() {
            let p = randomFloats(n, seed: UInt64(51 + i)), t = randomFloats(n, seed: UInt64(61 + i))
            let (pb, tb, gb) = (try input(p), try input(t), try output(n))
            try run { try kernels.mseBackward($0, pred: pb.whole, target: tb.whole, grad: gb.whole, count: n) }
            let want = Reference.mseBackward(p.asDouble, t.asDouble)
            // A subtraction, a product and a division: three roundings, 3u relative.
            assertWithinBound(try result(gb, n), want, bound: want.map { 3 * 0x1p-24 * abs($0) + Double.leastNormalMagnitude }, "mse_backward \(n)")
        }
    }

    /// A shard of a distributed batch divides by the whole batch's element count, not its own.
    func testMseBackwardWithALargerDenominatorMatchesReference() throws {
        for (i, n) in Self.counts.enumerated() {
            let p = randomFloats(n, seed: UInt64(71 + i)), t = randomFloats(n, seed: UInt64(81 + i))
            let (pb, tb, gb) = (try input(p), try input(t), try output(n))
            let denominator = 3 * n + 37
            try run { try kernels.mseBackward($0, pred: pb.whole, target: tb.whole, grad: gb.whole, count: n, denominator: denominator) }
            let want = Reference.mseBackward(p.asDouble, t.asDouble, denominator: denominator)
            assertWithinBound(try result(gb, n), want, bound: want.map { 3 * 0x1p-24 * abs($0) + Double.leastNormalMagnitude }, "mse_backward \(n) / \(denominator)")
        }
    }
}
