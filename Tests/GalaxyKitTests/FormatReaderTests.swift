import Foundation
import XCTest
@testable import GalaxyKit

/// galaxy's TensorBoard event files and ONNX models, read by the programs users open them with:
/// TensorBoard's event reader, onnx.checker and ONNX Runtime (CPU), installed from PyPI into
/// .venv-formats by `make test` (Tests/formats/check_formats.py does the reading).
final class FormatReaderTests: GPUTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        try super.setUpWithError()
        dir = try makeTempDir(self)
    }

    /// The readers' Python: GALAXY_FORMATS_PYTHON, which `make test` sets (a missing one fails the test);
    /// without it, .venv-formats in the package if present, else the test is skipped (plain `swift test`).
    func readersPython() throws -> URL {
        if let given = ProcessInfo.processInfo.environment["GALAXY_FORMATS_PYTHON"] {
            guard FileManager.default.isExecutableFile(atPath: given) else {
                XCTFail("GALAXY_FORMATS_PYTHON=\(given) is not an executable: run `make formats-venv`")
                throw XCTSkip("no readers")
            }
            return URL(fileURLWithPath: given)
        }
        let local = SharedData.packageRoot.appendingPathComponent(".venv-formats/bin/python")
        guard FileManager.default.isExecutableFile(atPath: local.path) else {
            throw XCTSkip("TensorBoard and ONNX Runtime are not installed: `make formats-venv` (make test does it)")
        }
        return local
    }

    /// Runs the readers' check; fails the test with its output unless it exits 0.
    func check(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(try readersPython(), [SharedData.packageRoot.appendingPathComponent("Tests/formats/check_formats.py").path] + args)
        print(r.output)
        XCTAssertEqual(r.status, 0, "check_formats.py \(args.joined(separator: " ")):\n\(r.output)", file: file, line: line)
    }

    func run(_ executable: URL, _ args: [String]) throws -> ProcessOutput { try runProcess(executable, args) }

    /// A run stopped mid-epoch (Ctrl-C), then killed after writing more of the event file than its
    /// checkpoint holds, then resumed to the end: TensorBoard reads every step once, and exactly
    /// metrics.csv's numbers at each epoch's end; and the same of a run on vote counts (NLL).
    func testTensorBoardReadsTheMetricsOfAStoppedKilledAndResumedRun() throws {
        let dataDir = dir.appendingPathComponent("data"), runDir = dir.appendingPathComponent("run")
        _ = try GalaxySynth.write(to: dataDir, options: .init(count: 24, seed: 11))
        let data = try GalaxyCache.loadOrPrepare(DataSource(dataDir: dataDir), strict: true, progress: nil)
        var o = TrainOptions()
        o.epochs = 3
        o.batch = 4  // 19 training images: 5 steps, the last of 3
        o.augment = false
        o.meanOutputBias = true
        let first = try Trainer(context: context, data: data, runDir: runDir, options: o, initWeights: nil, resume: false)
        first.log = { _ in }
        first.readbackEvery = 2
        XCTAssertEqual(first.train.count, 19)
        var calls = 0
        // Asked after every step but an epoch's last, and after every epoch: the 7th is step 2 of epoch 2.
        XCTAssertEqual(try first.run { calls += 1; return calls == 7 }, .interrupted)
        XCTAssertEqual(first.state.epoch, 1)
        XCTAssertEqual(first.state.step, 2)
        let eventFile = try XCTUnwrap(TensorBoardLog.files(in: runDir).first)
        // The killed run's leftovers: the rest of epoch 2 and its summary, and half a record.
        var leftovers = [UInt8]()
        for step: Int64 in [35, 38] { leftovers += TFRecord.frame(TensorBoardLog.event(step: step, scalars: [(MetricsTable.runningTrainTag, 99)], wallTime: Date()).serializedBytes()) }
        leftovers += TFRecord.frame(TensorBoardLog.event(step: 38, scalars: [(MetricsTable.epochKeyTag, 99), ("epoch", 2)], wallTime: Date()).serializedBytes())
        leftovers += TFRecord.frame(Array(repeating: 1, count: 40)).prefix(30)
        let h = try FileHandle(forWritingTo: eventFile)
        h.seekToEndOfFile()
        h.write(Data(leftovers))
        try h.close()

        let resumed = try Trainer(context: context, data: data, runDir: runDir, options: o, initWeights: nil, resume: true)
        resumed.log = { _ in }
        resumed.readbackEvery = 2
        XCTAssertEqual(try resumed.run(), .finished)

        let read = try TensorBoardLog.read(eventFile)
        XCTAssertTrue(read.intact)
        XCTAssertFalse(read.scalars.contains { $0.value == 99 }, "the killed run's leftovers are still there")
        // Read back every 2 steps and at an epoch's end: images 8, 16, 19 of each epoch.
        XCTAssertEqual(read.scalars.filter { $0.tag == MetricsTable.runningTrainTag }.map(\.step), [8, 16, 19, 27, 35, 38, 46, 54, 57])
        XCTAssertEqual(read.scalars.filter { $0.tag == "epoch" }.map(\.step), [19, 38, 57])
        XCTAssertEqual(read.scalars.filter { $0.tag == "epoch" }.map(\.value), [1, 2, 3])
        // The per-question RMSEs (from the per-column sums) add up to the test RMSE (from their total). Both come
        // from the same float32 column sums in Float64: about 60 roundings of 2^-53 apart (5e-15), 1e-13 taken.
        for m in resumed.state.metrics {
            let q = try XCTUnwrap(m.testRMSEByQuestion)
            let total = zip(q, GalaxyZooTree.questionRanges).reduce(0.0) { $0 + $1.0 * $1.0 * Double($1.1.count) }
            print("per-question RMSEs vs the test RMSE: relative \(abs((total / 37).squareRoot() - m.testRMSE) / m.testRMSE)")
            XCTAssertEqual((total / 37).squareRoot(), m.testRMSE, accuracy: 1e-13 * m.testRMSE)
        }

        // A run on vote counts (the Dirichlet loss, DECaLS tree, 9 training galaxies at batch 4): its scalars are
        // the mean NLL per galaxy under nll/train, nll/test and nll/train_running, which TensorBoard reads the same way.
        let countsDir = dir.appendingPathComponent("counts"), countsRun = dir.appendingPathComponent("counts-run")
        _ = try GalaxySynth.write(to: countsDir, options: .init(count: 12, seed: 11, counts: .decalsDR5))
        let counts = try GalaxyCache.loadOrPrepare(DataSource(dataDir: countsDir), strict: true, progress: nil)
        var c = TrainOptions()
        (c.epochs, c.batch, c.learningRate, c.augment, c.meanOutputBias) = (2, 4, 0.01, false, true)
        c.outputMode = .dirichlet
        c.schema = AnswerSchema.decalsDR5.json
        let dirichlet = try Trainer(context: context, data: counts, runDir: countsRun, options: c, initWeights: nil, resume: false)
        dirichlet.log = { _ in }
        dirichlet.readbackEvery = 2
        XCTAssertEqual(try dirichlet.run(), .finished)
        XCTAssertEqual(dirichlet.state.metrics.map(\.measure), [EpochMetrics.nll, EpochMetrics.nll])
        try check(["tensorboard", runDir.path, "19", countsRun.path, "\(dirichlet.train.count)"])
    }

    /// `galaxy export` of PyTorch's weights in every output form, the Dirichlet head's included; ONNX Runtime on
    /// real and synthetic galaxies gives `galaxy predict --json`'s outputs (and concentrations), batch 1 and batch 8.
    func testOnnxRuntimeGivesGalaxyPredictsOutputs() throws {
        let golden = CLITests.shared.appendingPathComponent("torch-golden/sdnet_two_sgd_steps.safetensors")
        var (weights, _) = try ModelWeights.load(golden)
        let real = try FileManager.default.contentsOfDirectory(atPath: SharedData.trainingImages.path).filter { $0.hasSuffix(".jpg") }.sorted().prefix(5)
            .map { SharedData.trainingImages.appendingPathComponent($0) }
        let synthDir = dir.appendingPathComponent("synth")
        _ = try GalaxySynth.write(to: synthDir, options: .init(count: 3, seed: 5))
        let synthImages = synthDir.appendingPathComponent("images_training_rev1")
        let synthetic = try FileManager.default.contentsOfDirectory(atPath: synthImages.path).sorted().map { synthImages.appendingPathComponent($0) }
        let images = real + synthetic
        XCTAssertEqual(images.count, 8)
        // The network's input as galaxy makes it: decoded, cropped and resized bytes, then scaled per channel.
        var inputs = [Float](), pixels = [UInt8]()
        for url in images {
            let bytes = try preprocessGalaxyImage(contentsOf: url)
            pixels += bytes
            let plane = bytes.count / 3
            inputs += bytes.enumerated().map { i, v in Augment.table[(i / plane) * 256 + Int(v)] }
        }
        let inputsFile = dir.appendingPathComponent("inputs.f32")
        try inputs.withUnsafeBytes { try Data($0).write(to: inputsFile) }

        var cases: [[String: Any]] = []
        for mode in OutputMode.allCases {
            let checkpoint = dir.appendingPathComponent("\(mode.argument).safetensors")
            if mode == .constrained {
                // Q3's answers far in the softplus tail (softplus underflows there): the exp(z - max z) branch.
                var w = weights["fc3.weight"], b = weights["fc3.bias"]
                for c in GalaxyZooTree.questionRanges[2] { for j in 0..<64 { w[c * 64 + j] = 0 } }
                b[5] = -100
                b[6] = -101
                weights["fc3.weight"] = w
                weights["fc3.bias"] = b
            }
            try weights.save(to: checkpoint, metadata: mode == .relu ? [:] : ["output": mode.rawValue])
            let model = dir.appendingPathComponent("\(mode.argument).onnx")
            var r = try run(CLITests.executable, ["export", checkpoint.path, "--onnx", model.path])
            XCTAssertEqual(r.status, 0, r.output)
            XCTAssertTrue(r.output.contains("center crop 207x207"), r.output)
            XCTAssertTrue(r.output.contains("output_form: \(mode.rawValue)"), r.output)
            r = try run(CLITests.executable, ["predict", "--json", "--checkpoint", checkpoint.path] + images.map(\.path))
            XCTAssertEqual(r.status, 0, r.output)
            let records = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
            XCTAssertEqual(records.count, images.count)
            if mode == .constrained {
                let q3 = records.map { ($0["outputs"] as! [String: Double])["Class3.1"]! / ($0["outputs"] as! [String: Double])["Class2.2"]! }
                // Class3.1 / Class2.2 is Q3's first normalized answer weight (times the stored parent, over it: 1u). Its
                // float32 error: 2 of the weights' (14u each in the tail, 1 below the top) and 11u (ConstrainedOutputTests
                // .forwardBound), 4u second-order: 43u, 48u taken (2.9e-6).
                print("Q3 tail ratio errors \(q3.map { abs($0 - 1 / (1 + exp(-1))) })")
                for ratio in q3 { XCTAssertEqual(ratio, 1 / (1 + exp(-1)), accuracy: 48 * 0x1p-24, "the tail branch of Q3") }
            }
            cases.append(["name": mode.argument, "model": model.path, "inputs": inputsFile.path, "count": images.count,
                          "output_form": mode.rawValue, "expected": records])
        }
        // The decision-tree layer in GZ DECaLS' tree (34 answers, a new head on the golden convolutions), exported and
        // predicted in this process (the code paths `galaxy export` and `galaxy predict` run), checked in the same ORT run.
        let decals = AnswerSchema.decalsDR5, decalsCheckpoint = dir.appendingPathComponent("constrained-decals.safetensors")
        let decalsWeights = weights.withNewHead(outputs: decals.answerCount, seed: 9)
        try decalsWeights.save(to: decalsCheckpoint, metadata: ["output": OutputMode.constrained.rawValue, AnswerSchema.metadataKey: decals.json,
                                                                 "columns": decals.columnNames.joined(separator: ",")])
        let decalsModel = dir.appendingPathComponent("constrained-decals.onnx")
        try OnnxExport.export(checkpoint: decalsCheckpoint, to: decalsModel)
        let decalsOutputs = try Predictor(context: TestDevice.context(), weights: decalsWeights, maxBatch: images.count, outputMode: .constrained,
                                          tree: decals).predict(images: pixels)
        let decalsRecords = (0..<images.count).map { i in
            ["outputs": Dictionary(uniqueKeysWithValues: zip(decals.columnNames, decalsOutputs[i * 34..<(i + 1) * 34].map(Double.init)))]
        }
        cases.append(["name": "constrained-decals", "model": decalsModel.path, "inputs": inputsFile.path, "count": images.count,
                      "output_form": OutputMode.constrained.rawValue, "expected": decalsRecords])
        // A Dirichlet (vote counts) checkpoint of PyTorch's weights in the Kaggle tree: the model's output is predict's
        // "outputs" (each answer's expected share of all volunteers, down the tree), its second output predict's
        // "concentrations".
        let (original, _) = try ModelWeights.load(golden)
        let schema = AnswerSchema.kaggle, checkpoint = dir.appendingPathComponent("dirichlet.safetensors"), model = dir.appendingPathComponent("dirichlet.onnx")
        try original.save(to: checkpoint, metadata: ["output": OutputMode.dirichlet.rawValue, AnswerSchema.metadataKey: schema.json,
                                                     "columns": schema.columnNames.joined(separator: ",")])
        var r = try run(CLITests.executable, ["export", checkpoint.path, "--onnx", model.path])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("output_form: dirichlet") && r.output.contains("concentrations: float32 [N, 37]"), r.output)
        r = try run(CLITests.executable, ["predict", "--json", "--checkpoint", checkpoint.path] + images.map(\.path))
        XCTAssertEqual(r.status, 0, r.output)
        let records = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(records.count, images.count)
        XCTAssertTrue(records.allSatisfy { ($0["concentrations"] as? [String: Double])?.count == 37 }, r.stdout)
        cases.append(["name": "dirichlet", "model": model.path, "inputs": inputsFile.path, "count": images.count, "output_form": OutputMode.dirichlet.rawValue,
                      "expected": records, "questions": schema.questions.count, "max_answers": schema.questionRanges.map(\.count).max()!])

        let casesFile = dir.appendingPathComponent("cases.json")
        try JSONSerialization.data(withJSONObject: cases).write(to: casesFile)
        try check(["onnx", casesFile.path])
    }
}
