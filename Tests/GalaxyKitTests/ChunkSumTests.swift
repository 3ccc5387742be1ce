import XCTest
@testable import GalaxyKit

final class ChunkSumTests: GPUTestCase {
    /// (count, chunks): one of each, counts that are not multiples of any workgroup size, many chunks.
    static let shapes = [(1, 1), (37, 3), (1000, 17), (70, 1), (5, 64)]

    func testChunkSumMatchesReference() throws {
        for (i, (count, chunks)) in Self.shapes.enumerated() {
            for (tag, kernels) in [("device", kernels!)] + gpuVariants() {
                let x = randomFloats(count * chunks, seed: UInt64(40 + i))
                let (xb, yb) = (try input(x), try output(count))
                try run { try kernels.chunkSum($0, x: xb.whole, y: yb.whole, count: count, chunks: chunks) }
                let want = Reference.chunkSum(x.asDouble, count: count, chunks: chunks)
                let absRef = Reference.chunkSum(x.asDouble.absolute, count: count, chunks: chunks)
                assertWithinBound(try result(yb, count), want, bound: sumBound(absRef, terms: chunks), "chunk_sum \(tag) \(count) x \(chunks)")
            }
        }
    }
}
