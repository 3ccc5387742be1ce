import XCTest
@testable import GalaxyKit

final class AugmentTests: GPUTestCase {
    private func randomImages(_ count: Int, side: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        return (0..<(count * 3 * side * side)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// Runs augment.comp for `indices` and returns the checked output.
    private func augment(_ data: DeviceDataset, _ indices: [UInt32], mode: AugmentMode) throws -> [Float] {
        let n = indices.count * 3 * data.side * data.side
        let idx = try DeviceBuffer(context, bytes: indices.count * 4, label: "indices", hostVisible: true)
        try idx.upload(indices)
        let out = try output(n)
        try run { try data.recordBatch($0, kernels: kernels, indices: idx, batch: indices.count, mode: mode, input: out.whole, target: nil) }
        return try result(out, n)
    }

    func testAugmentMatchesReference() throws {
        // Random angles: the shader and the reference do the same float32 operations (no FMA
        // contraction: `precise`) on the same tables, so nearest-neighbour picks the same pixel: exact.
        for (side, count) in [(69, 5), (11, 40), (8, 3)] {
            let images = randomImages(count, side: side, seed: UInt64(side))
            let data = try DeviceDataset(context, images: images, side: side, targets: nil, targetWidth: 0)
            let indices: [UInt32] = (0..<UInt32(count)).reversed().map { $0 }
            for mode in [AugmentMode.random(seed: 42, epoch: 0), .random(seed: 42, epoch: 3), .none, .view(5)] {
                XCTAssertEqual(try augment(data, indices, mode: mode),
                               Reference.augment(images: images, side: side, indices: indices, mode: mode), "augment side \(side) \(mode)")
            }
        }
    }

    func testAugmentReadsEveryWindow() throws {
        // 600 images of 363 bytes with windows of 256 images: three bindings, the last one partial.
        let side = 11, count = 600
        let images = randomImages(count, side: side, seed: 77)
        let data = try DeviceDataset(context, images: images, side: side, targets: nil, targetWidth: 0, windowBytes: 256 * 363)
        XCTAssertEqual(data.windows.count, 3)
        let indices: [UInt32] = [0, 255, 256, 511, 512, 599, 300]
        XCTAssertEqual(try augment(data, indices, mode: .none), Reference.augment(images: images, side: side, indices: indices, mode: .none))
    }

    /// A streamed batch: row b is keyed by its data set index but its bytes sit at `positions[b]` of the
    /// bound slots (here the data set reversed, in two buffers): the same output as the resident layout.
    func testAugmentReadsImagesAtTheirPositions() throws {
        let side = 11, count = 12, imageBytes = 3 * 11 * 11
        let images = randomImages(count, side: side, seed: 78)
        let reversed = (0..<count).reversed().flatMap { images[($0 * imageBytes)..<(($0 + 1) * imageBytes)] }
        let slots = try (0..<2).map { s in try DeviceBuffer(context, bytes: (6 * imageBytes + 3) / 4 * 4, label: "slot \(s)") }
        for s in 0..<2 { try slots[s].upload(Array(reversed[(s * 6 * imageBytes)..<((s + 1) * 6 * imageBytes)])) }
        let indices: [UInt32] = [3, 0, 11, 6, 5]
        let positions = indices.map { UInt32(count - 1) - $0 }
        let idx = try DeviceBuffer(context, bytes: 64, label: "indices", hostVisible: true)
        try idx.upload(indices + [UInt32](repeating: 99, count: 3) + positions)
        for mode in [AugmentMode.random(seed: 1, epoch: 2), .none] {
            let out = try output(indices.count * imageBytes)
            try run { try kernels.augment($0, windows: slots.map(\.whole), imagesPerWindow: 6, indices: idx.whole, positionsAt: 8, table: table().whole,
                                         output: out.whole, batch: indices.count, side: side, mode: mode) }
            let want = Reference.augment(images: images, side: side, indices: indices, mode: mode)
            XCTAssertEqual(try result(out, want.count), want, "\(mode)")
            XCTAssertEqual(want, Reference.augment(images: reversed, side: side, indices: indices, positions: positions, mode: mode))
        }
    }

    private func table() throws -> DeviceBuffer {
        let t = try DeviceBuffer(context, floats: Augment.table.count, label: "augment table")
        try t.upload(Augment.table)
        return t
    }

    func testDihedralViewsAreExactRotationsAndFlips() throws {
        let side = 69
        let images = randomImages(1, side: side, seed: 5)
        let data = try DeviceDataset(context, images: images, side: side, targets: nil, targetWidth: 0)
        let plain = try augment(data, [0], mode: .none)
        let l = side - 1
        // Independent index maps (not the shader's formula): PIL rotates counter-clockwise.
        let maps: [(Int, (Int, Int) -> (Int, Int))] = [
            (1, { x, y in (l - y, x) }),          // 90: out(x,y) = in(W-1-y, x)
            (2, { x, y in (l - x, l - y) }),      // 180
            (3, { x, y in (y, l - x) }),          // 270
            (4, { x, y in (l - x, y) }),          // horizontal flip
        ]
        for (view, map) in maps {
            let got = try augment(data, [0], mode: .view(view))
            var want = [Float](repeating: 0, count: plain.count)
            for c in 0..<3 { for y in 0..<side { for x in 0..<side {
                let (sx, sy) = map(x, y)
                want[c * side * side + y * side + x] = plain[c * side * side + sy * side + sx]
            } } }
            XCTAssertEqual(got, want, "view \(view)")
        }
    }

    func testNoAugmentationIsTorchvisionNormalization() throws {
        let side = 9
        let images = randomImages(2, side: side, seed: 8)
        let data = try DeviceDataset(context, images: images, side: side, targets: nil, targetWidth: 0)
        let got = try augment(data, [1], mode: .none)
        for i in 0..<(3 * side * side) {
            let c = i / (side * side)
            // float32, in torchvision's order: ToTensor divides by 255, Normalize subtracts and divides.
            let want = (Float(images[3 * side * side + i]) / 255 - Augment.mean[c]) / Augment.std[c]
            XCTAssertEqual(got[i], want, "element \(i)")
        }
    }

    func testRandomAugmentationIsKeyedAndBalanced() {
        // Reproducible for a key, different across epochs, and flips/angles spread as asked (p = 0.5, uniform).
        let a = (0..<4000).map { Augment.parameters(.random(seed: 42, epoch: 1), image: UInt32($0)) }
        let b = (0..<4000).map { Augment.parameters(.random(seed: 42, epoch: 1), image: UInt32($0)) }
        let c = (0..<4000).map { Augment.parameters(.random(seed: 42, epoch: 2), image: UInt32($0)) }
        XCTAssertTrue(zip(a, b).allSatisfy { $0 == $1 })
        XCTAssertLessThan(zip(a, c).filter { $0.angle == $1.angle }.count, 10)
        // Binomial(4000, 0.5) has sd 32: 2000 +- 200 is over 6 sd.
        XCTAssertEqual(Double(a.filter(\.hflip).count), 2000, accuracy: 200)
        XCTAssertEqual(Double(a.filter(\.vflip).count), 2000, accuracy: 200)
        let quarters = (0..<4).map { q in a.filter { $0.angle / 16384 == q }.count }
        for n in quarters { XCTAssertEqual(Double(n), 1000, accuracy: 150) }  // sd 27 per quarter
    }

    func testGatherRowsMatchesReference() throws {
        for (rows, width, indices) in [(10, 37, [UInt32]([3, 0, 9, 3])), (5, 1, [4, 2]), (70, 3, Array(0..<70).map(UInt32.init).reversed())] {
            let src = randomFloats(rows * width, seed: UInt64(rows))
            let (sb, out) = (try input(src), try output(indices.count * width))
            let ib = try DeviceBuffer(context, bytes: indices.count * 4, label: "indices", hostVisible: true)
            try ib.upload(indices)
            try run { try kernels.gatherRows($0, src: sb.whole, indices: ib.whole, output: out.whole, batch: indices.count, width: width) }
            XCTAssertEqual(try result(out, indices.count * width), Reference.gatherRows(src, width: width, indices: indices))
        }
    }
}
