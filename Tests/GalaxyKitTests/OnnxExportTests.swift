import Foundation
import XCTest
@testable import GalaxyKit

/// `galaxy export`'s bad inputs: a clear error naming the file, a non-zero exit, and no file (not even
/// a temporary one) where the model would go. (FormatReaderTests runs good models in ONNX Runtime.)
final class OnnxExportTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try makeTempDir(self) }

    func galaxy(_ args: [String]) throws -> ProcessOutput { try runProcess(CLITests.executable, args) }

    func assertExportFails(_ checkpoint: URL, to out: URL, mentioning expected: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let existed = FileManager.default.fileExists(atPath: out.path)
        let r = try galaxy(["export", checkpoint.path, "--onnx", out.path])
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("error: "), r.stderr, file: file, line: line)
        for text in expected { XCTAssertTrue(r.stderr.contains(text), "stderr lacks \"\(text)\":\n\(r.stderr)", file: file, line: line) }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: out.deletingLastPathComponent().path)) ?? []
        XCTAssertFalse(left.contains { $0.contains(".tmp-") }, "a temporary file left behind: \(left)", file: file, line: line)
        XCTAssertEqual(FileManager.default.fileExists(atPath: out.path), existed, "\(out.path) written", file: file, line: line)
    }

    func testBadCheckpointsAndPathsGiveClearErrorsAndNoFile() throws {
        let weights = ModelWeights(outputs: 37, seed: 3)
        let good = dir.appendingPathComponent("good.safetensors")
        try weights.save(to: good, metadata: ["output": OutputMode.constrained.rawValue])
        let out = dir.appendingPathComponent("model.onnx")

        try assertExportFails(dir.appendingPathComponent("missing.safetensors"), to: out, mentioning: ["missing.safetensors", "cannot read"])
        let truncated = dir.appendingPathComponent("truncated.safetensors")
        let bytes = try Data(contentsOf: good)
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        try assertExportFails(truncated, to: out, mentioning: ["truncated.safetensors", "truncated"])
        let foreign = dir.appendingPathComponent("foreign.safetensors")
        try SafeTensors.write([("embedding.weight", Tensor(shape: [2, 2], values: [1, 2, 3, 4]))], to: foreign)
        try assertExportFails(foreign, to: out, mentioning: ["foreign.safetensors", "not a SanderDielemanNet checkpoint"])
        let unknown = dir.appendingPathComponent("unknown.safetensors")
        try weights.save(to: unknown, metadata: ["output": "constrained-tanh"])
        try assertExportFails(unknown, to: out, mentioning: ["unknown.safetensors", "unknown output mode \"constrained-tanh\""])
        let narrow = dir.appendingPathComponent("narrow.safetensors")
        try ModelWeights(outputs: 3, seed: 1).save(to: narrow, metadata: ["output": OutputMode.constrained.rawValue])
        try assertExportFails(narrow, to: out, mentioning: ["narrow.safetensors", "needs the decision tree of its 3 outputs"])
        // A recorded schema that does not fit the weights names the file and both sizes (in process: the same code path).
        let misfit = dir.appendingPathComponent("misfit.safetensors")
        try ModelWeights(outputs: 3, seed: 1).save(to: misfit, metadata: ["output": OutputMode.constrained.rawValue,
                                                                         AnswerSchema.metadataKey: AnswerSchema.decalsDR5.json])
        XCTAssertThrowsError(try OnnxExport.export(checkpoint: misfit, to: out)) { error in
            XCTAssertTrue("\(error)".contains("misfit.safetensors") && "\(error)".contains("has 34 answers, its weights 3 outputs"), "\(error)")
        }
        // A Dirichlet head's expected shares need its decision tree, which its checkpoint must record.
        let treeless = dir.appendingPathComponent("treeless.safetensors")
        try weights.save(to: treeless, metadata: ["output": OutputMode.dirichlet.rawValue])
        try assertExportFails(treeless, to: out, mentioning: ["treeless.safetensors", "dirichlet checkpoint without its schema"])
        try assertExportFails(good, to: dir.appendingPathComponent("no-such-dir/model.onnx"), mentioning: ["no-such-dir/model.onnx"])
        let directory = dir.appendingPathComponent("taken.onnx")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        try assertExportFails(good, to: directory, mentioning: ["taken.onnx", "cannot rename"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))

        // The good checkpoint exports, and the command says what the model expects.
        let r = try galaxy(["export", good.path, "--onnx", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        for text in ["opset 17", "[N, 3, 69, 69]", "center crop 207x207", "x / 255", "mean: 0.485,0.456,0.406", "output_form: constrained-softplus", "Class11.6"] {
            XCTAssertTrue(r.stdout.contains(text), "stdout lacks \"\(text)\":\n\(r.stdout)")
        }
        // The model decodes with the same messages, with the checkpoint's tensors in PyTorch's layout.
        let model = try Onnx_ModelProto(serializedBytes: [UInt8](try Data(contentsOf: out)))
        XCTAssertEqual(model.opsetImport.first?.version, 17)
        for name in weights.names {
            let t = try XCTUnwrap(model.graph.initializer.first { $0.name == name }, name)
            XCTAssertEqual(t.dims.map(Int.init), weights.tensors[name]!.shape, name)
            let values = t.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            XCTAssertEqual(values, weights.tensors[name]!.values, name)
        }
    }
}
