import Foundation
import XCTest
@testable import GalaxyKit

/// `galaxy catalog` as a user runs it: input order and IDs from a folder tree and from lists, PNG, images that do not
/// decode, runs killed, stopped and failed then resumed byte for byte, two ranks against one, and the half-size
/// decoding's documented bound. Every run uses PyTorch's initial weights of the seed's network (the golden file:
/// outputs that differ from image to image, no training needed) on 24 synthetic images made once for the class.
final class CatalogTests: XCTestCase {
    static let checkpoint = CLITests.shared.appendingPathComponent("torch-golden/sdnet_two_sgd_steps.safetensors").path
    static let imageCount = 24
    /// The class's folder: `images/` (the synthetic JPEGs) and `reference.csv` (their catalogue, made in one go).
    nonisolated(unsafe) static var shared: URL?
    var dir: URL!

    override class func tearDown() {
        if let shared { try? FileManager.default.removeItem(at: shared) }
        shared = nil
    }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    @discardableResult
    func galaxy(_ args: [String], env: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line,
                started: (Process, URL) throws -> Void = { _, _ in }) throws -> LoggedOutput {
        let r = try runLogged(CLITests.executable, args, env: env, in: dir, started: started)
        XCTAssertFalse(r.output.contains("[vulkan validation]"), "validation messages:\n\(r.output)", file: file, line: line)
        XCTAssertLessThan(r.status, 128, "galaxy \(args) crashed:\n\(r.output)", file: file, line: line)
        return r
    }

    /// The synthetic images, made on first use.
    func images() throws -> URL {
        if let shared = Self.shared { return shared.appendingPathComponent("images") }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-catalog-shared-\(UUID().uuidString)")
        let r = try galaxy(["synth", "--count", "\(Self.imageCount)", "--test-count", "0", "--seed", "21", "--out", folder.path])
        XCTAssertEqual(r.status, 0, r.output)
        try FileManager.default.moveItem(at: folder.appendingPathComponent("images_training_rev1"), to: folder.appendingPathComponent("images"))
        Self.shared = folder
        return folder.appendingPathComponent("images")
    }

    /// The catalogue of `images()` made in one go, in one process (made on first use).
    func reference() throws -> Data {
        let images = try images()
        let url = Self.shared!.appendingPathComponent("reference.csv")
        if !FileManager.default.fileExists(atPath: url.path) {
            let r = try galaxy(["catalog", "--checkpoint", Self.checkpoint, "--images", images.path, "--out", url.path])
            XCTAssertEqual(r.status, 0, r.output)
        }
        return try Data(contentsOf: url)
    }

    /// `catalog` of the shared images into `out` with `extra` options.
    func catalog(_ out: URL, _ extra: [String] = [], env: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line,
                 started: (Process, URL) throws -> Void = { _, _ in }) throws -> LoggedOutput {
        try galaxy(["catalog", "--checkpoint", Self.checkpoint, "--images", try images().path, "--out", out.path] + extra, env: env,
                   file: file, line: line, started: started)
    }

    /// The rows of a catalogue CSV: header, then ID -> fields.
    func rows(_ url: URL) throws -> (header: String, ids: [String], values: [String: String]) {
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        var values: [String: String] = [:]
        var ids: [String] = []
        for line in lines.dropFirst() {
            // The tests' IDs hold no comma, except the quoted one of the CSV list.
            let id: String
            if line.hasPrefix("\"") {
                let end = line.dropFirst().firstIndex(of: "\"")!
                id = String(line[line.index(after: line.startIndex)..<end])
            } else {
                id = String(line.prefix { $0 != "," })
            }
            ids.append(id)
            values[id] = String(line.dropFirst(line.hasPrefix("\"") ? id.count + 3 : id.count + 1))
        }
        return (lines[0], ids, values)
    }

    /// Images done so far in `out`'s work folder (0 when there is none).
    func imagesDone(_ out: URL) -> Int {
        (try? CatalogWork(out: out).parts().reduce(0) { $0 + $1.images }) ?? 0
    }

    /// Waits until `out`'s work folder holds at least `images` images (or the process ended); true when it does.
    func wait(for out: URL, images: Int, while p: Process) -> Bool {
        let deadline = Date().addingTimeInterval(300)
        while imagesDone(out) < images && p.isRunning && Date() < deadline { usleep(10_000) }
        return imagesDone(out) >= images && p.isRunning
    }

    func testFolderIsWalkedInSortedPathOrderWithIDsFromNamesAndPNGs() throws {
        let source = try FileManager.default.contentsOfDirectory(at: try images(), includingPropertiesForKeys: nil).sorted { $0.path < $1.path }
        let tree = dir.appendingPathComponent("tree")
        func put(_ i: Int, _ path: String) throws {
            let url = tree.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: source[i], to: url)
        }
        // Byte order: "10" < "9" (no numeric order), "B" < "a", "a/0.png" < "a/x/...", ".hidden" and non-images skipped.
        try put(0, "9.jpg")
        try put(1, "10.jpg")
        try put(2, "B/3.JPEG")
        try put(3, "a/x/1.jpg")
        try put(4, ".hidden/5.jpg")
        try "not an image".write(to: tree.appendingPathComponent("a/notes.txt"), atomically: true, encoding: .utf8)
        // The same pixels as a/x/1.jpg, as a PNG: the same crop, so the same answers.
        let pixels = try JPEG.decode(contentsOf: source[3])
        try Data(PNG.encode(pixels)).write(to: tree.appendingPathComponent("a/0.png"))

        let out = dir.appendingPathComponent("tree.csv")
        let r = try galaxy(["catalog", "--checkpoint", Self.checkpoint, "--images", tree.path, "--out", out.path])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("wrote \(out.path): 5 rows"), r.output)
        let (header, ids, values) = try rows(out)
        XCTAssertEqual(header, "id," + GalaxyZooTree.columnNames.joined(separator: ","))
        XCTAssertEqual(ids, ["10", "9", "3", "0", "1"])
        XCTAssertEqual(values["0"], values["1"], "the PNG's answers differ from its JPEG's")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path + ".errors"), "no image failed: no errors file")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path + ".parts"), "the work folder is removed at the end")
        // The answers of a file do not depend on where it stands in the input: those of the reference, made in one go.
        _ = try reference()
        let reference = try rows(Self.shared!.appendingPathComponent("reference.csv"))
        for (id, i) in [("9", 0), ("10", 1), ("3", 2), ("1", 3)] {
            XCTAssertEqual(values[id], reference.values[source[i].deletingPathExtension().lastPathComponent], id)
        }
    }

    func testListsGiveTheirOrderAndTheirIDs() throws {
        let source = try FileManager.default.contentsOfDirectory(at: try images(), includingPropertiesForKeys: nil).sorted { $0.path < $1.path }
        _ = try reference()
        let reference = try rows(Self.shared!.appendingPathComponent("reference.csv"))
        // A text list in its own order, with CRLF line ends and a blank line.
        let order = [5, 2, 7, 2]
        let text = dir.appendingPathComponent("list.txt")
        try (order.map { source[$0].path }.joined(separator: "\r\n\r\n") + "\r\n").write(to: text, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("text.csv")
        var r = try galaxy(["catalog", "--checkpoint", Self.checkpoint, "--list", text.path, "--out", out.path])
        XCTAssertEqual(r.status, 0, r.output)
        var got = try rows(out)
        let stems = order.map { source[$0].deletingPathExtension().lastPathComponent }
        XCTAssertEqual(got.ids, stems, "a text list's rows are in its order, each ID the file's stem")
        for id in stems { XCTAssertEqual(got.values[id], reference.values[id], id) }

        // Zoobot's column names, a quoted path with a comma, an ID with a comma, another column beside them.
        let comma = dir.appendingPathComponent("J101,+20.jpg")
        try FileManager.default.copyItem(at: source[1], to: comma)
        let csv = dir.appendingPathComponent("list.csv")
        try """
        ra,file_loc,id_str
        1.5,"\(comma.path)","J101,+20"
        2.5,\(source[3].path),dr8_3

        """.write(to: csv, atomically: true, encoding: .utf8)
        let out2 = dir.appendingPathComponent("csv.csv")
        r = try galaxy(["catalog", "--checkpoint", Self.checkpoint, "--list", csv.path, "--out", out2.path])
        XCTAssertEqual(r.status, 0, r.output)
        got = try rows(out2)
        XCTAssertTrue(got.header.hasPrefix("id_str,Class1.1,"), got.header)
        XCTAssertEqual(got.ids, ["J101,+20", "dr8_3"])
        XCTAssertTrue(try String(contentsOf: out2, encoding: .utf8).contains("\n\"J101,+20\",0."), "an ID with a comma is quoted")
        XCTAssertEqual(got.values["J101,+20"], reference.values[source[1].deletingPathExtension().lastPathComponent])
        XCTAssertEqual(got.values["dr8_3"], reference.values[source[3].deletingPathExtension().lastPathComponent])

        // --id-column names the column; one the header lacks, or one for a plain list, is a clear error.
        r = try galaxy(["catalog", "--checkpoint", Self.checkpoint, "--list", csv.path, "--id-column", "ra", "--out", dir.appendingPathComponent("ra.csv").path])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(try rows(dir.appendingPathComponent("ra.csv")).ids, ["1.5", "2.5"])
        r = try galaxy(["catalog", "--checkpoint", Self.checkpoint, "--list", csv.path, "--id-column", "objid", "--out", dir.appendingPathComponent("x.csv").path])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("\(csv.path): the header has no column objid (it has ra, file_loc, id_str)"), r.output)
        r = try galaxy(["catalog", "--checkpoint", Self.checkpoint, "--list", text.path, "--id-column", "id", "--out", dir.appendingPathComponent("x.csv").path])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("--id-column id needs a CSV list"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.csv").path))
    }

    func testImagesThatDoNotDecodeAreRecordedOrStopAStrictRun() throws {
        let source = try FileManager.default.contentsOfDirectory(at: try images(), includingPropertiesForKeys: nil).sorted { $0.path < $1.path }
        let folder = dir.appendingPathComponent("mixed")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for i in 0..<4 { try FileManager.default.copyItem(at: source[i], to: folder.appendingPathComponent("\(i * 2).jpg")) }
        let jpeg = try Data(contentsOf: source[4])
        try jpeg.prefix(jpeg.count / 2).write(to: folder.appendingPathComponent("1.jpg"))                       // truncated
        try Data("<html>not found</html>".utf8).write(to: folder.appendingPathComponent("3.png"))            // not an image
        try Data(ImageDecoding.pngSignature + [UInt8](repeating: 7, count: 40)).write(to: folder.appendingPathComponent("5.png"))  // a broken PNG
        try Data(PNG.encode(RGBImage(width: 100, height: 150, pixels: [UInt8](repeating: 9, count: 100 * 150 * 3))))
            .write(to: folder.appendingPathComponent("7.png"))                                               // smaller than the crop
        let out = dir.appendingPathComponent("mixed.csv")
        let args = ["catalog", "--checkpoint", Self.checkpoint, "--images", folder.path, "--out", out.path, "--chunk", "3"]
        var r = try galaxy(args)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("4 rows, 4 skipped (listed in \(out.path).errors)"), r.output)
        XCTAssertEqual(try rows(out).ids, ["0", "2", "4", "6"])
        let errors = try String(contentsOfFile: out.path + ".errors", encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(errors.count, 5, errors.joined(separator: "\n"))
        XCTAssertEqual(errors[0], "id,path,error")
        for (line, (id, why)) in zip(errors.dropFirst(), [("1", "truncated"), ("3", "not a JPEG or PNG"), ("5", "corrupt PNG"), ("7", "100x150, smaller than the 207x207")]) {
            XCTAssertTrue(line.hasPrefix("\(id),\(id).\(id == "1" ? "jpg" : "png"),"), line)
            XCTAssertTrue(line.contains(why), "\(line) lacks \(why)")
        }

        // --strict stops at the first (image 2 of 8) with its name, writes no catalogue, and keeps the chunk before it;
        // the same command without --strict then finishes exactly as the run above.
        let strict = dir.appendingPathComponent("strict.csv")
        let strictArgs = ["catalog", "--checkpoint", Self.checkpoint, "--images", folder.path, "--out", strict.path, "--chunk", "1"]
        r = try galaxy(strictArgs + ["--strict"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("error: \(folder.path)/1.jpg: corrupt or truncated JPEG"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: strict.path))
        XCTAssertEqual(imagesDone(strict), 1)
        r = try galaxy(strictArgs)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(try Data(contentsOf: strict), try Data(contentsOf: out))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: strict.path + ".errors")), try Data(contentsOf: URL(fileURLWithPath: out.path + ".errors")))
    }

    /// kill -9 mid-run (and a torn last line), SIGTERM, a lost device: each resumed by the same command, ending byte
    /// for byte as the run made in one go. A resume with another checkpoint or input is refused; a finished
    /// catalogue is not replaced without --overwrite.
    func testKilledStoppedAndFailedRunsResumeByteIdentically() throws {
        let expected = try reference()
        let out = dir.appendingPathComponent("k.csv")
        let chunk = ["--chunk", "2"]
        var r = try catalog(out, chunk) { p, _ in
            if self.wait(for: out, images: 6, while: p) { kill(p.processIdentifier, SIGKILL) }
        }
        // What the killed process had committed (it may have finished a chunk between the look and the kill).
        let killedAt = imagesDone(out)
        XCTAssertEqual(r.status, SIGKILL, "not killed mid-run (\(killedAt) images done):\n\(r.output)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        // What a kill while writing leaves: a torn row past the last whole chunk.
        let part = CatalogWork(out: out).file(0, "rows")
        let handle = try FileHandle(forWritingTo: part)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("999999,0.12".utf8))
        try handle.close()

        var stoppedAt = 0
        r = try catalog(out, chunk) { p, _ in
            if self.wait(for: out, images: killedAt + 4, while: p) { kill(p.processIdentifier, SIGTERM) }
        }
        XCTAssertEqual(r.status, ExitStatus.preempted, r.output)
        XCTAssertTrue(r.output.contains("resuming: \(killedAt) of \(Self.imageCount) images were done"), r.output)
        // At least the torn row; more when the kill came between a chunk's rows and its progress line.
        let cut = try NSRegularExpression(pattern: "cut ([0-9]+) bytes written after its last whole chunk")
        let match = try XCTUnwrap(cut.firstMatch(in: r.output, range: NSRange(r.output.startIndex..., in: r.output)), r.output)
        XCTAssertGreaterThanOrEqual(Int((r.output as NSString).substring(with: match.range(at: 1)))!, 11, r.output)
        XCTAssertTrue(r.output.contains("run the same command again to go on"), r.output)
        stoppedAt = imagesDone(out)
        XCTAssertTrue((killedAt + 4..<Self.imageCount).contains(stoppedAt), "stopped at \(stoppedAt)")

        // The 4th submission to the device fails as a lost device: exit 69, what was written is kept.
        r = try catalog(out, chunk, env: ["GALAXY_FAULT": "submit:4:device-lost"])
        XCTAssertEqual(r.status, ExitStatus.deviceFailed, r.output)
        for text in ["VK_ERROR_DEVICE_LOST", "images done are kept in \(out.path).parts", "run the same command again to go on"] {
            XCTAssertTrue(r.output.contains(text), "lacks \"\(text)\":\n\(r.output)")
        }
        XCTAssertLessThan(imagesDone(out), Self.imageCount)

        // Another checkpoint, or another input, cannot resume it.
        let (weights, meta) = try ModelWeights.load(URL(fileURLWithPath: Self.checkpoint))
        var other = weights
        other["fc3.bias"][0] += 0.5
        let otherCheckpoint = dir.appendingPathComponent("other.safetensors")
        try other.save(to: otherCheckpoint, metadata: meta)
        r = try galaxy(["catalog", "--checkpoint", otherCheckpoint.path, "--images", try images().path, "--out", out.path])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("cannot resume: it was begun with another checkpoint (\(Self.checkpoint)"), r.output)
        let fewer = dir.appendingPathComponent("fewer")
        try FileManager.default.copyItem(at: try images(), to: fewer)
        try FileManager.default.removeItem(at: try FileManager.default.contentsOfDirectory(at: fewer, includingPropertiesForKeys: nil)[0])
        r = try galaxy(["catalog", "--checkpoint", Self.checkpoint, "--images", fewer.path, "--out", out.path])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("it was begun with another input list (\(Self.imageCount) images"), r.output)
        r = try catalog(out, chunk + ["--tta", "2"])
        XCTAssertTrue(r.output.contains("it was begun with --tta 1, not 2"), r.output)

        r = try catalog(out, chunk)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("resumed after"), r.output)
        XCTAssertEqual(try Data(contentsOf: out), expected, "the resumed catalogue differs from the one made in one go")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path + ".parts"))

        r = try catalog(out, chunk)
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("\(out.path) exists (a finished catalogue, or another file): give --overwrite"), r.output)
        r = try catalog(out, ["--overwrite"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(try Data(contentsOf: out), expected)
    }

    /// Two ranks (mpirun, both on this machine's lavapipe) write what one writes; a run stopped under one rank is
    /// finished by two, and one where rank 1's device was lost is finished by one.
    func testTwoRanksWriteWhatOneWritesAndResumeWithAnyNumberOfRanks() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: DistributedTests.mpirun.path), "mpirun not installed (make deps installs openmpi-bin)")
        let expected = try reference()
        func mpi(_ ranks: Int, _ out: URL, env: [String: String] = [:]) throws -> LoggedOutput {
            let r = try runLogged(DistributedTests.mpirun, ["-np", "\(ranks)", CLITests.executable.path, "catalog", "--checkpoint", Self.checkpoint,
                                                            "--images", try images().path, "--out", out.path, "--chunk", "4"],
                                  env: mpiTestEnvironment.merging(env) { $1 }, in: dir)
            XCTAssertFalse(r.output.contains("[vulkan validation]"), "validation messages:\n\(r.output)")
            return r
        }
        let two = dir.appendingPathComponent("two.csv")
        var r = try mpi(2, two)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("catalog (rank 0 of 2) 12/12"), r.output)
        XCTAssertEqual(try Data(contentsOf: two), expected, "2 ranks differ from 1")

        let stopped = dir.appendingPathComponent("stopped.csv")
        r = try catalog(stopped, ["--chunk", "2"]) { p, _ in
            if self.wait(for: stopped, images: 4, while: p) { kill(p.processIdentifier, SIGTERM) }
        }
        XCTAssertEqual(r.status, ExitStatus.preempted, r.output)
        let done = imagesDone(stopped)
        r = try mpi(2, stopped)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("resuming: \(done) of \(Self.imageCount) images were done"), r.output)
        XCTAssertEqual(try Data(contentsOf: stopped), expected, "1 rank then 2 differs from 1")

        let lost = dir.appendingPathComponent("lost.csv")
        r = try mpi(2, lost, env: ["GALAXY_FAULT": "submit:3:device-lost:1"])
        XCTAssertEqual(r.status, ExitStatus.deviceFailed, r.output)
        XCTAssertTrue(r.output.contains("error: rank 1 of 2: rank 1 of 2: the device failed while inferring images"), r.output)
        r = try catalog(lost)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(try Data(contentsOf: lost), expected, "2 ranks then 1 differs from 1")
    }

    /// `--decode half` against the full decode on 24 real Kaggle images: the answers move, by less than the bound the
    /// help states.
    func testHalfSizeDecodingStaysWithinItsDocumentedBound() throws {
        let sample = try listGalaxyImages(in: SharedData.trainingImages).prefix(24).map(\.url.path)
        let list = dir.appendingPathComponent("kaggle.txt")
        try sample.joined(separator: "\n").write(to: list, atomically: true, encoding: .utf8)
        var answers: [[Double]] = []
        for decode in ["full", "half"] {
            let out = dir.appendingPathComponent("\(decode).csv")
            let r = try galaxy(["catalog", "--checkpoint", Self.checkpoint, "--list", list.path, "--out", out.path, "--decode", decode])
            XCTAssertEqual(r.status, 0, r.output)
            let got = try rows(out)
            answers.append(got.ids.flatMap { got.values[$0]!.split(separator: ",").map { Double($0)! } })
        }
        XCTAssertEqual(answers[0].count, 24 * 37)
        let rmse = (zip(answers[0], answers[1]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(answers[0].count)).squareRoot()
        print(String(format: "--decode half against full on 24 Kaggle images: answers' RMSE %.6f (bound %.4f)", rmse, CatalogFastPath.answerRMSEBound))
        XCTAssertGreaterThan(rmse, 0, "--decode half changed nothing: is it on?")
        XCTAssertLessThan(rmse, CatalogFastPath.answerRMSEBound)
    }

    /// A Dirichlet (vote-count) checkpoint: each answer's expected share under its column name, then its concentration
    /// under `<column>_concentration`; `submit` writes the shares alone, the same numbers.
    func testADirichletCheckpointWritesSharesAndConcentrations() throws {
        let schema = AnswerSchema.decalsDR5
        let checkpoint = dir.appendingPathComponent("dirichlet.safetensors")
        try ModelWeights(outputs: schema.columnNames.count, seed: 8).save(to: checkpoint, metadata: [
            "output": OutputMode.dirichlet.rawValue, "columns": schema.columnNames.joined(separator: ","), AnswerSchema.metadataKey: schema.json])
        let out = dir.appendingPathComponent("dirichlet.csv")
        var r = try galaxy(["catalog", "--checkpoint", checkpoint.path, "--images", try images().path, "--out", out.path])
        XCTAssertEqual(r.status, 0, r.output)
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        let k = schema.columnNames.count
        XCTAssertEqual(String(lines[0]), (["id"] + schema.columnNames + schema.columnNames.map { $0 + "_concentration" }).joined(separator: ","))
        XCTAssertEqual(lines.count, Self.imageCount + 1)
        for line in lines.dropFirst() {
            let values = line.split(separator: ",").dropFirst().map { Float($0)! }
            XCTAssertEqual(values.count, 2 * k)
            let concentrations = Array(values[k...])
            XCTAssertTrue(concentrations.allSatisfy { $0 >= 1 && $0 <= 100 }, "\(concentrations)")
            // The shares from the concentrations as written (six decimals: the shares move by far less than 1e-5).
            let shares = ConcentrationAnswers.expectedFractions(schema: schema, rows: concentrations)
            for (a, b) in zip(values[..<k], shares) { XCTAssertEqual(a, b, accuracy: 2e-5) }
        }
        let submission = dir.appendingPathComponent("submission.csv")
        let named = dir.appendingPathComponent("named")
        try FileManager.default.createDirectory(at: named, withIntermediateDirectories: true)
        for (i, url) in try FileManager.default.contentsOfDirectory(at: try images(), includingPropertiesForKeys: nil).sorted(by: { $0.path < $1.path }).prefix(3).enumerated() {
            try FileManager.default.copyItem(at: url, to: named.appendingPathComponent("\(i + 1).jpg"))
        }
        r = try galaxy(["submit", "--checkpoint", checkpoint.path, "--images", named.path, "--out", submission.path])
        XCTAssertEqual(r.status, 0, r.output)
        let submitted = try String(contentsOf: submission, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(String(submitted[0]), (["GalaxyID"] + schema.columnNames).joined(separator: ","))
        let byID = Dictionary(uniqueKeysWithValues: lines.dropFirst().map { ($0.prefix { $0 != "," }, $0.split(separator: ",").dropFirst().prefix(k)) })
        let first = try FileManager.default.contentsOfDirectory(at: try images(), includingPropertiesForKeys: nil).sorted(by: { $0.path < $1.path })[0]
        XCTAssertEqual(Array(submitted[1].split(separator: ",").dropFirst()), Array(byID[Substring(first.deletingPathExtension().lastPathComponent)]!))
    }

    // MARK: - The pieces

    func testSharesCoverWhatIsLeftOnceInOrder() throws {
        typealias Part = CatalogWork.Part
        let parts = [Part(start: 3, images: 4), Part(start: 10, images: 2), Part(start: 15, images: 5)]
        let gaps = try CatalogWork.gaps(parts, count: 22)
        XCTAssertEqual(gaps, [0..<3, 7..<10, 12..<15, 20..<22])
        for ranks in 1...5 {
            let shares = (0..<ranks).map { CatalogWork.share(of: gaps, rank: $0, ranks: ranks) }
            XCTAssertEqual(shares.flatMap { $0.flatMap { Array($0) } }, gaps.flatMap { Array($0) }, "\(ranks) ranks")
            let sizes = shares.map { $0.reduce(0) { $0 + $1.count } }
            XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "\(ranks) ranks: \(sizes)")
        }
        // 11 images left: rank 0 takes the first 6 of them, rank 1 the last 5.
        XCTAssertEqual(CatalogWork.share(of: gaps, rank: 0, ranks: 2), [0..<3, 7..<10])
        XCTAssertEqual(CatalogWork.share(of: gaps, rank: 1, ranks: 2), [12..<15, 20..<22])
        XCTAssertThrowsError(try CatalogWork.gaps([Part(start: 0, images: 5), Part(start: 4, images: 2)], count: 10))
        XCTAssertThrowsError(try CatalogWork.gaps([Part(start: 8, images: 5)], count: 10))
    }

    func testListsParseCSVQuotingAndNameTheirErrors() throws {
        let list = dir.appendingPathComponent("l.csv")
        func parse(_ text: String, idColumn: String? = nil) throws -> CatalogInput {
            try text.write(to: list, atomically: true, encoding: .utf8)
            return try CatalogInput.list(list, idColumn: idColumn)
        }
        var input = try parse("path,GalaxyID\r\n\"/a/b \"\"c\"\", d.jpg\",7\r\n\n/x/y.png,8\n")
        XCTAssertEqual(input.idHeader, "GalaxyID")
        XCTAssertEqual(input.entries.map(\.path), ["/a/b \"c\", d.jpg", "/x/y.png"])
        XCTAssertEqual(input.entries.map(\.id), ["7", "8"])
        input = try parse("/p/q/r.s.jpg\nrelative/t.png\n")
        XCTAssertEqual(input.entries.map(\.id), ["r.s", "t"])
        XCTAssertEqual(input.url(1).path, FileManager.default.currentDirectoryPath + "/relative/t.png")
        XCTAssertEqual(input.idHeader, "id")
        for (text, message) in [("path,id\n/a.jpg\n", "l.csv:2: 1 field(s) where the header has 2"),
                                ("path\n\"/a.jpg\n", "l.csv:2: a quoted field is not closed on its line"),
                                ("path,id\n,3\n", "l.csv:2: the path field is empty"),
                                ("GalaxyID,file\n1,a.jpg\n", "the header names an ID column (GalaxyID) but no path column"),
                                ("\n\n", "no image paths in the list")] {
            XCTAssertThrowsError(try parse(text)) { XCTAssertTrue("\($0)".contains(message), "\($0) lacks \(message)") }
        }
        XCTAssertEqual(CSVField.escape("a,b"), "\"a,b\"")
        XCTAssertEqual(CSVField.escape("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(CSVField.escape("plain"), "plain")
    }

    /// The rows' numbers against printf's own `%.6f`, on values of every magnitude, exact ties and signs.
    func testSixDecimalsAreWhatPrintfWrites() {
        var rng = SplitMix64(seed: 31)
        var values: [Float] = [0, -0.0, 1, -1, 0.5, 1e-7, -1e-7, 4e-7, 5e-7, 6e-7, 999_999.9, 123_456_792, 1e11, -3e11, 1e13,
                               .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        // v * 10^6 has a fraction of exactly one half for v = j/128, j odd: printf rounds those to even.
        values += (1..<400).filter { $0 % 2 == 1 }.map { Float($0) / 128 }
        for _ in 0..<20_000 {
            let bits = UInt32(truncatingIfNeeded: rng.next())
            let v = Float(bitPattern: bits)
            values.append(v.isFinite && abs(v) < 1e6 ? v : Float(bitPattern: bits & 0x3FFF_FFFF) - 1)
        }
        for v in values {
            var out: [UInt8] = []
            FixedDecimal.append(v, to: &out)
            XCTAssertEqual(String(decoding: out, as: UTF8.self), String(format: "%.6f", Double(v)), "\(v) (bits \(String(v.bitPattern, radix: 16)))")
        }
    }
}
