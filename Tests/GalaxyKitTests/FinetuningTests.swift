import Foundation
import XCTest
@testable import GalaxyKit

/// Finetuning as Zoobot users work: another tree's head on kept convolutions, and training the dense layers only.
final class FinetuningTests: GPUTestCase {
    func testNewHeadKeepsTheConvolutions() {
        let old = ModelWeights(outputs: 37, seed: 1)
        let new = old.withNewHead(outputs: 34, seed: 2)
        XCTAssertEqual(new.outputs, 34)
        for name in new.names {
            if name.hasPrefix("conv") { XCTAssertEqual(new[name], old[name], name) } else { XCTAssertEqual(new[name], ModelWeights(outputs: 34, seed: 2)[name], name) }
        }
    }

    /// --freeze convolutions: the plan records no convolution gradient (weights or input) and no fc1 input
    /// gradient, and after an epoch the convolutions are bit for bit what they were while the dense layers moved.
    func testFrozenConvolutionsStayAndTheDenseLayersLearn() throws {
        let ops = DeviceNetwork.ops(outputs: 34, mode: .relu, training: true, frozenConvolutions: true).map(\.name)
        XCTAssertFalse(ops.contains { $0.hasPrefix("conv") && $0.contains("backward") }, "\(ops)")
        XCTAssertFalse(ops.contains("fc1.backward_input"))
        XCTAssertTrue(ops.contains("fc1.backward_weight"))
        let all = DeviceNetwork.ops(outputs: 34, mode: .relu, training: true).map(\.name)
        print("backward ops per step: \(all.filter { $0.contains("backward") }.count) trained, \(ops.filter { $0.contains("backward") }.count) frozen")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-freeze-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try GalaxySynth.write(to: dir.appendingPathComponent("data"), options: .init(count: 24, seed: 3, counts: .decalsDR5))
        let data = try GalaxyCache.loadOrPrepare(DataSource(dataDir: dir.appendingPathComponent("data")), strict: true, progress: nil)
        var o = TrainOptions()
        (o.epochs, o.batch, o.learningRate, o.augment, o.outputMode, o.schema, o.freezeConvolutions) = (1, 8, 0.02, false, .dirichlet, AnswerSchema.decalsDR5.json, true)
        o.meanOutputBias = true
        let start = ModelWeights(outputs: 37, seed: 5).withNewHead(outputs: 34, seed: 6)
        let t = try Trainer(context: context, data: data, runDir: dir.appendingPathComponent("run"), options: o, initWeights: start, resume: false, newHead: true)
        t.log = { _ in }
        // --mean-output-bias applies to the new head: it starts at the constant-concentration baseline of the training split.
        let baseline = CountStatistics.bias(for: CountStatistics.constantConcentrations(counts: data.targets, width: 34, rows: t.train,
                                                                                          questionStarts: AnswerSchema.decalsDR5.questionStarts))
        XCTAssertNotEqual(baseline, start["fc3.bias"])
        XCTAssertEqual(try t.network.weights()["fc3.bias"], baseline, "the new head's fc3 bias is the baseline's")
        XCTAssertEqual(try t.run(), .finished)
        let after = try ModelWeights.load(dir.appendingPathComponent("run/last.safetensors")).weights
        for name in after.names {
            if name.hasPrefix("conv") {
                XCTAssertEqual(after[name].map(\.bitPattern), start[name].map(\.bitPattern), "\(name) is frozen")
            } else {
                XCTAssertNotEqual(after[name], start[name], "\(name) trains")
            }
        }
    }
}
