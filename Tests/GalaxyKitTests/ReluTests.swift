import XCTest
@testable import GalaxyKit

final class ReluTests: GPUTestCase {
    static let counts = [1, 63, 64, 65, 1000, 4099]

    func testReluForwardMatchesReference() throws {
        for (i, n) in Self.counts.enumerated() {
            let x = randomFloats(n, seed: UInt64(1 + i))
            let (xb, yb) = (try input(x), try output(n))
            try run { try kernels.reluForward($0, x: xb.whole, y: yb.whole, count: n) }
            XCTAssertEqual(try result(yb, n), Reference.reluForward(x), "relu_forward \(n)")  // exact: a copy or a zero
        }
    }

    func testReluForwardInPlace() throws {
        let x = randomFloats(777, seed: 5)
        let xb = try input(x)
        try run { try kernels.reluForward($0, x: xb.whole, y: xb.whole, count: 777) }
        XCTAssertEqual(try result(xb, 777), Reference.reluForward(x))
    }

    func testReluBackwardMatchesReference() throws {
        for (i, n) in Self.counts.enumerated() {
            let y = Reference.reluForward(randomFloats(n, seed: UInt64(11 + i)))
            let dy = randomFloats(n, seed: UInt64(21 + i))
            let (yb, dyb, dxb) = (try input(y), try input(dy), try output(n))
            try run { try kernels.reluBackward($0, y: yb.whole, dy: dyb.whole, dx: dxb.whole, count: n) }
            XCTAssertEqual(try result(dxb, n), Reference.reluBackward(y, dy), "relu_backward \(n)")
        }
    }
}
