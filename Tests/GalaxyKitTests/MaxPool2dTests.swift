import XCTest
@testable import GalaxyKit

final class MaxPool2dTests: GPUTestCase {
    /// Even and odd sizes (odd ones drop the last row/column), one plane, and many planes.
    static let shapes = SelfTest.poolShapes  // (`galaxy selftest` runs the same shapes)

    /// Values from a small set so that ties inside a window are common: the tie rule is tested too.
    private func tiedValues(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(Int(rng.next() % 4)) - 1.5 }
    }

    func testMaxpool2dForwardMatchesReference() throws {
        for (i, s) in Self.shapes.enumerated() {
            for x in [randomFloats(s.inputCount, seed: UInt64(80 + i)), tiedValues(s.inputCount, seed: UInt64(90 + i))] {
                let (xb, yb, ib) = (try input(x), try output(s.outputCount), try output(s.outputCount, "index"))
                try run { try kernels.maxpool2dForward($0, x: xb.whole, y: yb.whole, index: ib.whole, shape: s) }
                let want = Reference.maxpool2dForward(x, s)
                // A maximum is one of the inputs, copied: exact equality.
                XCTAssertEqual(try result(yb, s.outputCount), want.y, "maxpool2d_forward values \(s)")
                let index = try ib.download(UInt32.self, count: s.outputCount)
                XCTAssertEqual(index, want.index, "maxpool2d_forward argmax \(s)")
            }
        }
    }

    func testMaxpool2dBackwardMatchesReference() throws {
        for (i, s) in Self.shapes.enumerated() {
            let x = tiedValues(s.inputCount, seed: UInt64(95 + i))
            let index = Reference.maxpool2dForward(x, s).index
            let dy = randomFloats(s.outputCount, seed: UInt64(99 + i))
            let (dyb, ib, dxb) = (try input(dy), try DeviceBuffer(context, floats: s.outputCount, label: "index"), try output(s.inputCount))
            try ib.upload(index)
            try run { try kernels.maxpool2dBackward($0, dy: dyb.whole, index: ib.whole, dx: dxb.whole, shape: s) }
            // Each input receives at most one dy, copied: exact equality.
            XCTAssertEqual(try result(dxb, s.inputCount), Reference.maxpool2dBackward(dy, index, s), "maxpool2d_backward \(s)")
        }
    }
}
