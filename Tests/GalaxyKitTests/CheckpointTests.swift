import Foundation
import XCTest
@testable import GalaxyKit

final class CheckpointTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testSafetensorsRoundTripKeepsNamesShapesAndValues() throws {
        let w = ModelWeights(outputs: 37, seed: 3)
        let url = dir.appendingPathComponent("w.safetensors")
        try w.save(to: url, metadata: ["output": "relu"])
        let (back, meta) = try ModelWeights.load(url, expectedOutputs: 37)
        XCTAssertEqual(back, w)
        XCTAssertEqual(meta["output"], "relu")
        XCTAssertEqual(back.tensors["conv1.weight"]?.shape, [32, 3, 6, 6])
        XCTAssertEqual(back.tensors["fc3.weight"]?.shape, [37, 64])
    }

    func testDefaultInitUsesPyTorchFanInBounds() {
        let w = ModelWeights(outputs: 5, seed: 1)
        for (name, shape) in SanderDielemanNet.parameterShapes(outputs: 5) where name.hasSuffix(".weight") {
            let bound = 1 / Float(shape.dropFirst().reduce(1, *)).squareRoot()
            let values = w[name]
            XCTAssertLessThanOrEqual(values.map(abs).max()!, bound, name)
            XCTAssertGreaterThan(values.map(abs).max()!, 0.9 * bound, "\(name) should fill its range")
        }
    }

    func testTruncatedFileIsAClearError() throws {
        let url = dir.appendingPathComponent("t.safetensors")
        try ModelWeights(outputs: 37, seed: 3).save(to: url)
        let data = try Data(contentsOf: url)
        try data.prefix(data.count - 100).write(to: url)
        XCTAssertThrowsError(try ModelWeights.load(url)) { e in
            XCTAssertTrue("\(e)".contains("truncated"), "\(e)")
            XCTAssertTrue("\(e)".contains(url.path), "\(e)")
        }
        try Data([1, 2, 3]).write(to: url)
        XCTAssertThrowsError(try ModelWeights.load(url)) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
    }

    func testWrongNamesShapesAndOutputCountNameTheTensor() throws {
        let w = ModelWeights(outputs: 37, seed: 3)
        var tensors = w.names.map { ($0, w.tensors[$0]!) }
        let url = dir.appendingPathComponent("bad.safetensors")
        tensors[2] = ("conv2.weights", tensors[2].1)
        try SafeTensors.write(tensors, to: url)
        XCTAssertThrowsError(try ModelWeights.load(url)) { XCTAssertTrue("\($0)".contains("conv2.weight missing"), "\($0)") }
        tensors = w.names.map { ($0, w.tensors[$0]!) }
        tensors[0] = ("conv1.weight", Tensor(shape: [32, 3, 5, 5], values: [Float](repeating: 0, count: 32 * 75)))
        try SafeTensors.write(tensors, to: url)
        XCTAssertThrowsError(try ModelWeights.load(url)) { XCTAssertTrue("\($0)".contains("conv1.weight has shape [32, 3, 5, 5]"), "\($0)") }
        try w.save(to: url)
        XCTAssertThrowsError(try ModelWeights.load(url, expectedOutputs: 1)) { XCTAssertTrue("\($0)".contains("fc3.bias has 37 outputs"), "\($0)") }
    }
}
