import XCTest
@testable import GalaxyKit

final class PredictorTests: GPUTestCase {
    private func images(_ n: Int) -> [UInt8] {
        var rng = SplitMix64(seed: 21)
        return (0..<(n * GalaxyDataset.imageBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    func testBatchesAndTestTimeAugmentation() throws {
        let weights = ModelWeights(outputs: 5, seed: 4)
        let pixels = images(7)
        // maxBatch 3: batches of 3, 3 and 1 give the same rows as one batch of 7.
        let small = try Predictor(context: context, weights: weights, maxBatch: 3, path: smallJobKernels.path)
        let large = try Predictor(context: context, weights: weights, maxBatch: 7, path: smallJobKernels.path)
        let plain = try small.predict(images: pixels)
        XCTAssertEqual(plain.count, 35)
        XCTAssertEqual(plain, try large.predict(images: pixels))
        XCTAssertEqual(plain, try small.predict(images: pixels, views: [.view(0)]), "view 0 is the identity")
        // The average of 2 or 4 views: a sum of floats times 1/2 or 1/4 (a power of two) is exact.
        let views = try (0..<4).map { try small.predict(images: pixels, views: [.view($0)]) }
        let two = try small.predict(images: pixels, views: [.view(0), .view(1)])
        let four = try small.predict(images: pixels, views: (0..<4).map { .view($0) })
        for i in plain.indices {
            XCTAssertEqual(two[i], (views[0][i] + views[1][i]) * 0.5)
            XCTAssertEqual(four[i], (((views[0][i] + views[1][i]) + views[2][i]) + views[3][i]) * 0.25)
        }
        XCTAssertNotEqual(views[0], views[1], "a rotated view should change the outputs of random weights")
    }
}
