import Foundation
import XCTest
@testable import GalaxyKit

/// Runs the built `galaxy` executable as a user would, for every command and its error cases.
final class CLITests: XCTestCase {
    static let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("../shared/data").standardizedFileURL
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }
    override class func tearDown() { try? FileManager.default.removeItem(at: sharedFixtures) }

    /// The executable beside the test bundle (SwiftPM builds every product before testing).
    static var executable: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            let candidate = url.deletingLastPathComponent().appendingPathComponent("galaxy")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            url = url.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: "galaxy-executable-not-built")
    }

    typealias Result = ProcessOutput

    @discardableResult
    func galaxy(_ args: [String], env: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let r = try runProcess(Self.executable, args, env: env)
        XCTAssertFalse(r.stderr.contains("[vulkan validation]"), "validation messages:\n\(r.stderr)", file: file, line: line)
        return r
    }

    /// A failing command: exit 1, one clear `error:` line that contains `expected`, no crash.
    func assertFails(_ args: [String], mentioning expected: [String], env: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try galaxy(args, env: env, file: file, line: line)
        XCTAssertNotEqual(r.status, 0, "\(args) should fail", file: file, line: line)
        XCTAssertLessThan(r.status, 128, "\(args) crashed:\n\(r.stderr)", file: file, line: line)
        for text in expected { XCTAssertTrue(r.stderr.contains(text), "stderr of \(args) lacks \"\(text)\":\n\(r.stderr)", file: file, line: line) }
    }

    func testWholeWorkflowFromSynthToSubmission() throws {
        let data = dir.appendingPathComponent("data").path, run = dir.appendingPathComponent("run").path
        var r = try galaxy(["synth", "--count", "14", "--test-count", "3", "--seed", "5", "--out", data])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try galaxy(["prepare", data])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("14 galaxies"), r.stdout)
        r = try galaxy(["train", "--data", data, "--run", run, "--epochs", "1", "--batch", "5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("constant-mean baseline test RMSE"), r.stdout)
        XCTAssertTrue(r.stdout.contains("epoch   1/1  train RMSE"), r.stdout)
        let best = "\(run)/best.safetensors"
        r = try galaxy(["eval", "--checkpoint", best, "--data", data])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("constant-mean baseline"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Q11"), r.stdout)
        XCTAssertTrue(r.stdout.contains("(image, question) pairs"), r.stdout)  // 3 test images x 11 questions
        XCTAssertTrue(r.stdout.contains(" of 33 (image, question) pairs"), r.stdout)
        // --show 2: the answers of the two test-split galaxies with the smallest IDs, beside their true ones.
        let labelled = try String(contentsOfFile: "\(data)/training_solutions_rev1.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { Int64($0.split(separator: ",")[0])! }
        let shown = trainTestSplit(count: labelled.count).test.map { labelled[$0] }.sorted()
        r = try galaxy(["eval", "--checkpoint", best, "--data", data, "--show", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for (id, rank) in [(shown[0], "the one with the smallest GalaxyID"), (shown[1], "number 2 by GalaxyID")] {
            XCTAssertTrue(r.stdout.contains("images_training_rev1/\(id).jpg (GalaxyID \(id)): of the galaxies evaluated, \(rank)"), r.stdout)
        }
        XCTAssertFalse(r.stdout.contains("(GalaxyID \(shown[2]))"), r.stdout)
        XCTAssertEqual(r.stdout.components(separatedBy: " prob |      meaning (exact) | meaning (pred)       | prob").count, 3, r.stdout)
        XCTAssertFalse(r.stdout.contains("    -"), "the true answers should be shown:\n\(r.stdout)")
        try assertFails(["eval", "--checkpoint", best, "--data", data, "--show=-1"], mentioning: ["--show -1"])

        let image = try FileManager.default.contentsOfDirectory(atPath: "\(data)/images_training_rev1").sorted()[0]
        r = try galaxy(["predict", "--checkpoint", best, "--labels", "\(data)/training_solutions_rev1.csv", "\(data)/images_training_rev1/\(image)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains(" prob |      meaning (exact) | meaning (pred)       | prob"), r.stdout)
        XCTAssertEqual(r.stdout.split(separator: "\n").filter { $0.contains(" | ") }.count, 12, "header + 11 questions:\n\(r.stdout)")
        XCTAssertFalse(r.stdout.contains("    -"), "the true answers should be shown:\n\(r.stdout)")

        r = try galaxy(["predict", "--json", "--checkpoint", best, "\(data)/images_training_rev1/\(image)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]
        let outputs = json?.first?["outputs"] as? [String: Double]
        XCTAssertEqual(outputs?.count, 37)
        XCTAssertNotNil(outputs?["Class11.6"])

        let csv = dir.appendingPathComponent("submission.csv").path
        r = try galaxy(["submit", "--checkpoint", best, "--images", "\(data)/images_test_rev1", "--out", csv])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(String(lines[0]), "GalaxyID," + GalaxyZooTree.columnNames.joined(separator: ","))
        XCTAssertEqual(lines.count, 4)
        let ids = lines.dropFirst().map { Int($0.split(separator: ",")[0])! }
        XCTAssertEqual(ids, ids.sorted())

        r = try galaxy(["devices"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("*"), r.stdout)
    }

    /// Vote counts in the GZ DECaLS tree: synth, train (--loss dirichlet by default, the schema detected), then
    /// every command on the checkpoint without a flag (eval, predict, submit, export, report); and the clear errors
    /// of counts and schemas.
    func testCountsWorkflowInTheDecalsTree() throws {
        let data = dir.appendingPathComponent("counts").path, run = dir.appendingPathComponent("run").path
        var r = try galaxy(["synth", "--counts", "--schema", "decals-dr5", "--count", "14", "--seed", "5", "--out", data])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try galaxy(["train", "--data", data, "--run", run, "--epochs", "1", "--batch", "5", "--lr", "0.01", "--mean-output-bias"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("constant-concentration baseline test NLL"), r.stdout)
        XCTAssertTrue(r.stdout.contains("schema: decals-dr5 (10 questions, 34 answers), loss dirichlet"), r.stdout)
        XCTAssertTrue(r.stdout.contains("epoch   1/1  train NLL"), r.stdout)
        let best = "\(run)/best.safetensors", image = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: "\(data)/images_training_rev1").sorted().first)
        r = try galaxy(["eval", "--checkpoint", best, "--data", data])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("90% coverage") && r.stdout.contains("spiral-arm-count"), r.stdout)
        r = try galaxy(["predict", "--json", "--checkpoint", best, "\(data)/images_training_rev1/\(image)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let records = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let concentrations = try XCTUnwrap(records.first?["concentrations"] as? [String: Double])
        XCTAssertEqual(Set(concentrations.keys), Set(AnswerSchema.decalsDR5.columnNames))
        XCTAssertTrue(concentrations.values.allSatisfy { $0 >= 1 && $0 <= 100 })
        XCTAssertEqual((records.first?["outputs"] as? [String: Double])?.count, 34)
        r = try galaxy(["predict", "--checkpoint", best, "--labels", "\(data)/training_solutions_rev1.csv", "\(data)/images_training_rev1/\(image)"])
        XCTAssertTrue(r.status == 0 && r.stdout.contains("share [90% interval]") && r.stdout.contains("observed"), r.stdout + r.stderr)
        // submit writes predict's outputs (each answer's expected share of all volunteers) under the tree's columns: the
        // same float32 network, in batches of another size (float32 within 1e-4 of the outputs' scale, at most 1), printed
        // to 6 decimals (5e-7).
        let submission = dir.appendingPathComponent("submission.csv")
        r = try galaxy(["submit", "--checkpoint", best, "--images", "\(data)/images_training_rev1", "--out", submission.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try String(contentsOf: submission, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        XCTAssertEqual(rows.first, ["GalaxyID"] + AnswerSchema.decalsDR5.columnNames)
        XCTAssertEqual(rows.count, 15)
        let id = String(image.prefix { $0 != "." }), predicted = try XCTUnwrap(records.first?["outputs"] as? [String: Double])
        let row = try XCTUnwrap(rows.first { $0.first == id }, "no row for \(id)")
        for (column, cell) in zip(rows[0].dropFirst(), row.dropFirst()) {
            XCTAssertEqual(Double(cell) ?? .nan, predicted[column] ?? .nan, accuracy: 1e-4 + 5e-7, "submission \(id) \(column)")
        }
        r = try galaxy(["export", best, "--onnx", dir.appendingPathComponent("c.onnx").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try galaxy(["report", run, "--out", dir.appendingPathComponent("r.html").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertFails(["train", "--data", data, "--run", dir.appendingPathComponent("mse").path, "--loss", "mse"], mentioning: ["holds vote counts", "--loss dirichlet"])
        try assertFails(["train", "--data", data, "--run", dir.appendingPathComponent("k").path, "--schema", "kaggle"],
                        mentioning: ["the schema \"kaggle\" needs the column(s) \"Class1.1\""])
        let csv = dir.appendingPathComponent("bad.csv")
        try Data("GalaxyID,a_x,a_y\n1,3,2\n2,4,-1\n".utf8).write(to: csv)
        try assertFails(["train", "--csv", csv.path, "--images", "\(data)/images_training_rev1", "--run", dir.appendingPathComponent("b").path],
                        mentioning: ["bad.csv:3", "GalaxyID 2", "column a_y", "-1 is not a vote count"])
    }

    /// PyTorch's weights through the whole product path: JPEG -> crop/resize -> augment (off) ->
    /// network gives PyTorch's output for the golden batch (the first 4 torchvision-crop images).
    func testPyTorchWeightsPredictPyTorchOutputs() throws {
        let golden = Self.shared.appendingPathComponent("torch-golden/sdnet_two_sgd_steps.safetensors")
        let ids = ["101654", "103750", "108994", "116328"]
        let images = ids.map { Self.shared.appendingPathComponent("kaggle-sample/images_training_rev1/\($0).jpg").path }
        let r = try galaxy(["predict", "--json", "--checkpoint", golden.path] + images)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let want = try SafeTensors.read(golden).tensors["step1.output"]!.values
        var worst = 0.0
        for (i, rec) in json.enumerated() {
            let outputs = try XCTUnwrap(rec["outputs"] as? [String: Double])
            for (c, name) in GalaxyZooTree.columnNames.enumerated() { worst = max(worst, abs(outputs[name]! - Double(want[i * 37 + c]))) }
        }
        let scale = Double(want.map(abs).max()!)
        print("predict vs PyTorch step1.output: max abs diff \(worst), relative to max output \(worst / scale)")
        // Our JPEG decode + crop + resize equals torchvision's crops (exactly: DataPreprocessTests); the rest is float32
        // against PyTorch's float64. Each layer's sums of L products round L times, by u = 2^-24 of a partial sum,
        // independently: about sqrt(L) u of the sum's scale. L = 108, 800, 576, 1152 (convolutions), 3200, 128, 64
        // (fc1-3): sum sqrt(L) = 173, plus a rounding per bias, the input's scaling (3) and the output (1): 184u
        // = 1.1e-5 of the scale through the 7 layers. 2e-5 (1.8 times that); measured 8.4e-8 on lavapipe. A
        // wrong index or a missed term moves an output by a percent.
        XCTAssertLessThan(worst / scale, 2e-5)
    }

    func testInitFromPyTorchWeightsAndWrongOutputCount() throws {
        let golden = Self.shared.appendingPathComponent("torch-golden/sdnet_two_sgd_steps.safetensors").path
        let sample = Self.shared.appendingPathComponent("kaggle-sample")
        // spiral_labels.csv has one target column: the 37-output weights give their convolutions, under a new dense head.
        let r = try galaxy(["train", "--csv", sample.appendingPathComponent("spiral_labels.csv").path, "--images", sample.appendingPathComponent("images_training_rev1").path,
                            "--cache", dir.appendingPathComponent("c.bin").path, "--init-weights", golden, "--run", dir.appendingPathComponent("r").path, "--epochs", "1",
                            "--test-fraction", "0.9", "--no-augment", "--batch", "24"])  // a short epoch: what is tested is the start
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("--init-weights: the convolutions of \(golden) (37 outputs, output relu) under a new dense head (fc1, fc2, fc3: 1 outputs"), r.stdout)
        let trained = try ModelWeights.load(dir.appendingPathComponent("r/last.safetensors")).weights
        XCTAssertEqual(trained.outputs, 1)
    }

    func testBadInputsGiveClearErrors() throws {
        let missing = dir.appendingPathComponent("nope.safetensors").path
        try assertFails(["predict", "--checkpoint", missing, "x.jpg"], mentioning: [missing])
        let truncated = dir.appendingPathComponent("t.safetensors")
        try ModelWeights(outputs: 37, seed: 1).save(to: truncated)
        let bytes = try Data(contentsOf: truncated)
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        try assertFails(["predict", "--checkpoint", truncated.path, "x.jpg"], mentioning: [truncated.path, "truncated"])
        try assertFails(["eval", "--checkpoint", truncated.path, "--data", dir.appendingPathComponent("none").path], mentioning: ["training_solutions_rev1.csv"])
        let good = dir.appendingPathComponent("g.safetensors")
        try ModelWeights(outputs: 37, seed: 1).save(to: good)
        let png = dir.appendingPathComponent("123456.jpg")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0]).write(to: png)
        try assertFails(["predict", "--checkpoint", good.path, png.path], mentioning: [png.path, "PNG"])
        // The run directory is claimed before the data is read: an empty one is the error, whatever the data.
        try assertFails(["train", "--resume", dir.appendingPathComponent("empty-run").path, "--data", dir.path], mentioning: ["empty-run", "holds no resumable run"])
        try assertFails(["train", "--resume", dir.appendingPathComponent("empty-run").path], mentioning: ["empty-run/data.json", "missing", "--data"])
        try assertFails(["devices"], mentioning: ["no Vulkan device", "mesa-vulkan-drivers"], env: ["VK_ICD_FILENAMES": "/nonexistent.json", "VK_DRIVER_FILES": "/nonexistent.json"])
        try assertFails(["train", "--data", dir.path, "--device", "no-such-gpu"], mentioning: ["training_solutions_rev1.csv"])
    }

    /// `train --help` describes each value of --output and --optimizer under its own name (ArgumentParser's default
    /// keyed the descriptions by raw value, and `constrained` is another output layer's raw value).
    func testTrainHelpDescribesEachChoiceUnderItsOwnName() throws {
        let r = try galaxy(["train", "--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = r.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")  // the columns and line breaks as single spaces
        for (value, description) in [("relu", "the seed's ReLU"), ("constrained", "Dieleman's decision-tree normalization"),
                                     ("constrained-relu", "the same of max(z, 0)"), ("sgd", "torch.optim.SGD"), ("adam", "torch.optim.Adam")] {
            XCTAssertTrue(text.contains("\(value) - \(description)"), "\(value) is not described as \"\(description)...\":\n\(r.stdout)")
        }
    }

    func testUnknownDeviceIsAClearError() throws {
        let data = dir.appendingPathComponent("data").path
        XCTAssertEqual(try galaxy(["synth", "--count", "4", "--out", data]).status, 0)
        // The error lists the devices present, whichever drivers the loader sees (VK_DRIVER_FILES).
        let present = try VulkanContext.listDevices().devices.map(\.name)
        try assertFails(["train", "--data", data, "--device", "no-such-gpu", "--run", dir.appendingPathComponent("r").path], mentioning: ["no-such-gpu"] + present)
        // Too little device memory for two batches of images: the sizes and what to change, and no run directory.
        let run = dir.appendingPathComponent("small").path
        try assertFails(["train", "--data", data, "--batch", "2", "--device-memory", "20K", "--run", run],
                        mentioning: ["20.0 KiB", "two batches of 2 images", "--device-memory", "--batch"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: run), "a run that could not start left \(run)")
        try assertFails(["train", "--data", data, "--run", run], mentioning: ["GALAXY_DEVICE_MEMORY", "\"lots\""], env: ["GALAXY_DEVICE_MEMORY": "lots"])
    }
}

extension CLITests {
    /// Two Vulkan drivers at once, lavapipe and SwiftShader (chromium-common ships it without registering
    /// it): `galaxy devices` lists both and says how to add an unregistered one, `--device NAME` picks
    /// each, and a prediction on either gives the same outputs (two compilers, one network).
    func testSecondDriverIsListedAndPickedByName() throws {
        let swiftshader = "/usr/lib/chromium/vk_swiftshader_icd.json"
        guard FileManager.default.fileExists(atPath: swiftshader) else { throw XCTSkip("\(swiftshader) absent: make deps installs chromium-common") }
        let icds = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/share/vulkan/icd.d")) ?? []
        guard let lavapipe = icds.first(where: { $0.hasPrefix("lvp_icd") }).map({ "/usr/share/vulkan/icd.d/\($0)" }) else {
            throw XCTSkip("no lavapipe ICD file in /usr/share/vulkan/icd.d (mesa-vulkan-drivers)")
        }
        // Whatever drivers this test process was given, the child sees exactly these.
        let lavapipeOnly = ["VK_DRIVER_FILES": lavapipe, "VK_ICD_FILENAMES": lavapipe, "VK_ADD_DRIVER_FILES": "", "GALAXY_DEVICE": ""]
        var r = try galaxy(["devices"], env: lavapipeOnly)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("llvmpipe") && !r.stdout.contains("SwiftShader Device"), r.stdout)
        XCTAssertTrue(r.stdout.contains("VK_ADD_DRIVER_FILES=\(swiftshader)"), "the unregistered driver and how to add it:\n\(r.stdout)")

        // VK_ADD_DRIVER_FILES adds a driver to the ones the loader finds itself (and is ignored beside
        // VK_DRIVER_FILES, which this test process may have been given: then only the list below runs).
        let environment = ProcessInfo.processInfo.environment
        if environment["VK_DRIVER_FILES"] == nil && environment["VK_ICD_FILENAMES"] == nil {
            r = try galaxy(["devices"], env: ["VK_ADD_DRIVER_FILES": swiftshader, "GALAXY_DEVICE": ""])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("SwiftShader") && r.stdout.contains("llvmpipe"), r.stdout)
        }
        let both = ["VK_DRIVER_FILES": "\(lavapipe):\(swiftshader)", "VK_ICD_FILENAMES": "\(lavapipe):\(swiftshader)", "VK_ADD_DRIVER_FILES": "", "GALAXY_DEVICE": ""]
        r = try galaxy(["devices"], env: both)
        XCTAssertEqual(r.status, 0, r.stderr)
        let listed = r.stdout.split(separator: "\n").filter { $0.contains("Vulkan 1.") }
        XCTAssertEqual(listed.count, 2, r.stdout)
        XCTAssertTrue(listed.contains { $0.contains("llvmpipe") } && listed.contains { $0.contains("SwiftShader") }, r.stdout)
        XCTAssertFalse(r.stdout.contains("not registered"), "SwiftShader is registered now:\n\(r.stdout)")
        for (selector, name) in [("swiftshader", "SwiftShader"), ("llvmpipe", "llvmpipe")] {
            r = try galaxy(["devices", "--verbose", "--device", selector], env: both)
            XCTAssertEqual(r.status, 0, r.stderr)
            let picked = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("--device \(selector) picks") }, r.stdout)
            XCTAssertTrue(picked.contains(name), String(picked))
            XCTAssertTrue(r.stdout.contains("\n\(name)"), "the verbose report is the picked device's:\n\(r.stdout)")
            XCTAssertTrue(r.stdout.contains("maxMemoryAllocationSize"), r.stdout)
        }

        // One prediction on each: the log names the device picked, and the outputs agree.
        let golden = Self.shared.appendingPathComponent("torch-golden/sdnet_two_sgd_steps.safetensors").path
        let image = Self.shared.appendingPathComponent("kaggle-sample/images_training_rev1/101654.jpg").path
        var outputs: [[String: Double]] = []
        for (selector, name) in [("swiftshader", "SwiftShader"), ("llvmpipe", "llvmpipe")] {
            r = try galaxy(["predict", "--json", "--device", selector, "--checkpoint", golden, image], env: both)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("device: \(name)"), r.stderr)
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
            outputs.append(try XCTUnwrap(json.first?["outputs"] as? [String: Double]))
        }
        XCTAssertEqual(outputs[0].count, 37)
        let scale = outputs[1].values.map(abs).max()!
        let worst = GalaxyZooTree.columnNames.map { abs(outputs[0][$0]! - outputs[1][$0]!) }.max()!
        print("SwiftShader vs lavapipe, one image: max abs diff \(worst), relative \(worst / scale)")
        // The two drivers may sum in different orders and contract differently: each is within float32's
        // rounding through the layers of the exact outputs, 2e-5 of the scale (testPyTorchWeightsPredictPyTorchOutputs
        // derives it), so they differ by at most twice that.
        XCTAssertLessThan(worst / scale, 4e-5)
    }

    func testConstrainedOutputModeIsRecordedAndUsed() throws {
        let data = dir.appendingPathComponent("data").path, run = dir.appendingPathComponent("run").path
        XCTAssertEqual(try galaxy(["synth", "--count", "8", "--seed", "2", "--out", data]).status, 0)
        let r = try galaxy(["train", "--data", data, "--run", run, "--epochs", "1", "--batch", "4", "--output", "constrained"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let (_, meta) = try ModelWeights.load(URL(fileURLWithPath: "\(run)/last.safetensors"))
        XCTAssertEqual(meta["output"], "constrained-softplus")
        let image = try FileManager.default.contentsOfDirectory(atPath: "\(data)/images_training_rev1").sorted()[0]
        let imagePath = "\(data)/images_training_rev1/\(image)"
        func predicted(_ checkpoint: String, tta: Int) throws -> [Float] {
            let r = try galaxy(["predict", "--json", "--tta", "\(tta)", "--checkpoint", checkpoint, imagePath])
            XCTAssertEqual(r.status, 0, r.stderr)
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
            let outputs = try XCTUnwrap(json.first?["outputs"] as? [String: Double])
            return GalaxyZooTree.columnNames.map { Float(outputs[$0]!) }
        }
        let row = try predicted("\(run)/last.safetensors", tta: 2)
        // Without being told, predict used the constrained layer: each question sums to its parent's
        // value, with no exception for a question whose fc3 outputs are <= 0. Each view's outputs are within
        // 57u of the rule with this sum (ConstrainedOutputTests.testConstrainedOutputSatisfiesTheDecisionTree);
        // the mean of 2 views rounds each value once more (u of a value <= 1: 2u for a question's sum and its
        // parent): 59u, 64u = 3.8e-6 taken. Measured 2u on lavapipe.
        for (q, range) in GalaxyZooTree.questionRanges.enumerated() {
            let sum = range.reduce(Float(0)) { $0 + row[$1] }
            let parent = GalaxyZooTree.parentColumn[q].map { row[$0] } ?? 1
            XCTAssertLessThanOrEqual(abs(sum - parent), Float(64 * 0x1p-24), "Q\(q + 1) sums to \(sum), parent \(parent): \(row)")
        }
        // A checkpoint of the first (relu) form records "constrained": it still predicts with that form.
        let (weights, _) = try ModelWeights.load(URL(fileURLWithPath: "\(run)/last.safetensors"))
        var oldMeta = meta
        oldMeta["output"] = "constrained"
        try weights.save(to: dir.appendingPathComponent("old.safetensors"), metadata: oldMeta)
        let old = try predicted(dir.appendingPathComponent("old.safetensors").path, tta: 1)
        let pixels = try preprocessGalaxyImage(contentsOf: URL(fileURLWithPath: imagePath))
        let context = try TestDevice.context()
        let tiles = KernelPath.forWork(context.info, images: 1)  // what predict uses for one image
        XCTAssertEqual(old, try Predictor(context: context, weights: weights, maxBatch: 1, outputMode: .constrainedReLU, path: tiles).predict(images: pixels))
        XCTAssertNotEqual(old, try Predictor(context: context, weights: weights, maxBatch: 1, outputMode: .constrained, path: tiles).predict(images: pixels))
        XCTAssertTrue(row.contains { $0 > 0 && $0 < 1 }, "\(row)")
        try assertFails(["train", "--csv", "\(data)/training_solutions_rev1.csv", "--images", "\(data)/images_training_rev1",
                         "--run", dir.appendingPathComponent("r2").path, "--epochs", "1", "--output", "bogus"], mentioning: ["bogus", "constrained-relu"])
        var newer = meta
        newer["output"] = "constrained-tanh"  // what a later galaxy might write
        try weights.save(to: dir.appendingPathComponent("newer.safetensors"), metadata: newer)
        try assertFails(["predict", "--checkpoint", dir.appendingPathComponent("newer.safetensors").path, imagePath],
                        mentioning: ["newer.safetensors", "constrained-tanh"])
    }
}

extension CLITests {
    func testPreviewWritesAPicture() throws {
        let images = ["101654", "103750"].map { Self.shared.appendingPathComponent("kaggle-sample/images_training_rev1/\($0).jpg").path }
        let out = dir.appendingPathComponent("p.jpg").path
        let r = try galaxy(["preview", "--out", out] + images)
        XCTAssertEqual(r.status, 0, r.stderr)
        let picture = try JPEG.decode(contentsOf: URL(fileURLWithPath: out))
        XCTAssertEqual(picture.width, 424 + 8 + 69 * 6)
        XCTAssertEqual(picture.height, 2 * 424 + 8)
        try assertFails(["preview", "--out", out, dir.appendingPathComponent("missing.jpg").path], mentioning: ["missing.jpg"])
    }
}

extension CLITests {
    /// Ctrl-C: the run stops after the current step with a resumable checkpoint and exit code 130.
    func testInterruptWritesAResumableCheckpoint() throws {
        let data = dir.appendingPathComponent("data").path, run = dir.appendingPathComponent("run").path
        XCTAssertEqual(try galaxy(["synth", "--count", "10", "--seed", "4", "--out", data]).status, 0)
        XCTAssertEqual(try galaxy(["prepare", data]).status, 0)
        let p = Process()
        p.executableURL = Self.executable
        p.arguments = ["train", "--data", data, "--run", run, "--epochs", "1000", "--batch", "1"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Wait for the first finished epoch (its line on stdout), then interrupt.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("epoch   1/1000") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        p.interrupt()
        seen += out.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130, stderr)
        let stdout = String(decoding: seen, as: UTF8.self)
        XCTAssertTrue(stdout.contains("resume with: galaxy train --resume"), stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(run)/last.state.safetensors"))
        // Resuming with a smaller --epochs finishes the interrupted run there; the data is found
        // through RUN/data.json without --data.
        let r = try galaxy(["train", "--resume", run, "--epochs", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("epoch   2/2"), r.stdout)
        XCTAssertFalse(r.stdout.contains("epoch   1/"), "epoch 1 was done before the interrupt:\n\(r.stdout)")
    }
}
