import Foundation
import XCTest
@testable import GalaxyKit

/// Paths to the shared, read-only test data (`../shared/data/` next to the package root).
enum SharedData {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let kaggleSample = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/kaggle-sample")
    static let trainingImages = kaggleSample.appendingPathComponent("images_training_rev1")
    static let crops = kaggleSample.appendingPathComponent("torchvision_crops")
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")
}

/// A fresh temporary directory, removed when the test ends.
func makeTempDir(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-data-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// A small synthetic RGB image with a smooth pattern (so JPEG keeps it recognizable).
func patternImage(width: Int, height: Int, seed: Int = 0) -> RGBImage {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            let i = (y * width + x) * 3
            pixels[i] = UInt8((x * 255) / max(width - 1, 1))
            pixels[i + 1] = UInt8((y * 255) / max(height - 1, 1))
            pixels[i + 2] = UInt8((x + y + seed * 40) % 256)
        }
    }
    return RGBImage(width: width, height: height, pixels: pixels)
}
