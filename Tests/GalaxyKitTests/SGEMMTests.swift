import XCTest
@testable import GalaxyKit

final class SGEMMTests: GPUTestCase {
    /// Sizes around the tiles: the SHARE path's 64 rows x 64 columns per workgroup (and the 64 x 128
    /// and 8 x 64 of the variants below), k in steps of 4
    /// with a scalar tail, vec4 loads of A (k % 4 == 0) and B (n % 4 == 0) with clamped edge groups,
    /// and the portable path's 4 x 4 blocks. None but the last two are tile multiples in every dimension.
    static let shapes = SelfTest.gemmShapes  // (`galaxy selftest` runs the same shapes)

    /// The device's own tiles, the bench ceiling's wider ones, narrow ones, lavapipe's quick ones, and the
    /// portable and GPU configurations (GPUTestSupport.gpuVariants).
    var variants: [(String, Kernels)] {
        var narrow = kernels.path
        if case .subgroupShare(var t) = narrow {
            (t.gemmRows, t.gemmLaneColumns) = (8, 8)
            narrow = .subgroupShare(t)
        }
        return [("device", kernels), ("ceiling", Kernels(context, path: Benchmark.ceilingPath(kernels.path))),
                ("8x8 lanes", Kernels(context, path: narrow))] + quickVariants() + gpuVariants()
    }

    func testSGEMMMatchesReference() throws {
        for (i, s) in Self.shapes.enumerated() { var same = SameBits(); for (tag, kernels) in variants {
            // The ceiling's tiles run only the bench's 1024^3 product (vec4 A and B): the shapes that load
            // vec4s both ways, so llvmpipe compiles its very wide variant once.
            if tag == "ceiling" && !(s.k % 4 == 0 && s.n % 4 == 0) { continue }
            let a = randomFloats(s.m * s.k, seed: UInt64(800 + i))
            let b = randomFloats(s.k * s.n, seed: UInt64(900 + i))
            let (ab, bb, cb) = (try input(a), try input(b), try output(s.m * s.n))
            try run { try kernels.sgemm($0, a: ab.whole, b: bb.whole, c: cb.whole, shape: s) }
            let want = Reference.sgemm(a.asDouble, b.asDouble, s)
            // Each element is one float32 sum of k products in one order: Higham's bound for k terms.
            let absRef = Reference.sgemm(a.asDouble.absolute, b.asDouble.absolute, s)
            let got = try result(cb, s.m * s.n)
            same.check(tag, got, "sgemm \(s)")
            assertWithinBound(got, want, bound: sumBound(absRef, terms: s.k), "sgemm \(tag) \(s)")
        } }
    }

    /// Every output is one sum in a fixed order, so a second run gives the same bits.
    func testSGEMMIsDeterministic() throws {
        let s = GemmShape(m: 24, n: 100, k: 257)
        let (ab, bb) = (try input(randomFloats(s.m * s.k, seed: 1)), try input(randomFloats(s.k * s.n, seed: 2)))
        var runs: [[UInt32]] = []
        for _ in 0..<2 {
            let cb = try output(s.m * s.n)
            try run { try kernels.sgemm($0, a: ab.whole, b: bb.whole, c: cb.whole, shape: s) }
            runs.append(try result(cb, s.m * s.n).map(\.bitPattern))
        }
        XCTAssertEqual(runs[0], runs[1])
    }
}
