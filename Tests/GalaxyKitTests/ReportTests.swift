import Foundation
import XCTest
@testable import GalaxyKit

/// `galaxy report` and `galaxy predict --explain` as a user runs them: the report of a small run opened
/// in headless Chromium (GALAXY_BROWSER; `make test` sets it, and then a missing browser fails), its
/// numbers against `galaxy eval`, the explained gradient against the reference network, and bad input.
final class ReportTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    struct Output { var status: Int32; var stdout: String; var stderr: String }

    func exec(_ executable: URL, _ args: [String]) throws -> Output {
        let p = Process()
        p.executableURL = executable
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func galaxy(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Output {
        let r = try exec(CLITests.executable, args)
        XCTAssertFalse(r.stderr.contains("[vulkan validation]"), "validation messages:\n\(r.stderr)", file: file, line: line)
        return r
    }

    /// A 40-galaxy synthetic data set trained 2 epochs (the demo's recipe, smaller).
    func trainedRun() throws -> (data: String, run: String) {
        let data = dir.appendingPathComponent("data").path, run = dir.appendingPathComponent("run").path
        var r = try galaxy(["synth", "--count", "40", "--test-count", "0", "--seed", "3", "--out", data])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try galaxy(["train", "--data", data, "--run", run, "--epochs", "2", "--batch", "8", "--lr", "1.0", "--no-augment", "--mean-output-bias"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("galaxy report \(URL(fileURLWithPath: run).path)"), "train should print the report command:\n\(r.stdout)")
        return (data, run)
    }

    /// The PNG's width and height from its IHDR, nil when the bytes are not a PNG.
    static func pngSize(_ bytes: [UInt8]) -> (Int, Int)? {
        guard bytes.count > 24, Array(bytes[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], Array(bytes[12..<16]) == Array("IHDR".utf8) else { return nil }
        func u32(_ i: Int) -> Int { bytes[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
        return (u32(16), u32(20))
    }

    func attribute(_ name: String, in text: String) -> [String] {
        let pattern = try! NSRegularExpression(pattern: name + "=\"([^\"]*)\"")
        return pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { String(text[Range($0.range(at: 1), in: text)!]) }
    }

    func testReportOpensInABrowserAndAgreesWithEval() throws {
        let (data, run) = try trainedRun()
        var r = try galaxy(["report", run])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = URL(fileURLWithPath: run).appendingPathComponent("report.html")
        XCTAssertTrue(r.stdout.contains("report: \(report.path)"), r.stdout)
        let html = try String(contentsOf: report, encoding: .utf8)

        // Self-contained: nothing to fetch.
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "the report names a URL")
        let sources = attribute("src", in: html) + attribute("href", in: html)
        XCTAssertFalse(sources.isEmpty)
        for s in sources { XCTAssertTrue(s.hasPrefix("data:image/"), "a reference outside the file: \(s.prefix(60))") }
        for id in ["curves", "questions", "calibration", "gallery", "worst", "saliency", "omitted"] {
            XCTAssertTrue(html.contains("<section id=\"\(id)\">"), "section \(id) missing")
        }
        XCTAssertTrue(html.contains("Nothing: every section is complete."), "the run has its data: nothing should be left out")

        // The numbers are eval's on the same checkpoint.
        r = try galaxy(["eval", "--checkpoint", "\(run)/best.safetensors", "--data", data])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let overall = try XCTUnwrap(lines.first { $0.hasPrefix("RMSE ") }).split(separator: " ").map(String.init)
        XCTAssertEqual(attribute("data-rmse", in: html), [overall[1]])
        XCTAssertEqual(attribute("data-baseline", in: html).first, overall.last)
        let evalQuestions = lines.filter { $0.hasPrefix("Q") }.map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(evalQuestions.count, 11)
        XCTAssertEqual(attribute("data-model", in: html), evalQuestions.map { $0[1] })
        XCTAssertEqual(Array(attribute("data-baseline", in: html).dropFirst()), evalQuestions.map { $0[2] })

        // In a real browser: every plot and image rendered, and a screenshot.
        let env = ProcessInfo.processInfo.environment
        let browser: String
        if let given = env["GALAXY_BROWSER"] {
            guard FileManager.default.isExecutableFile(atPath: given) else { return XCTFail("GALAXY_BROWSER=\(given) is not installed (make browser)") }
            browser = given
        } else if FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") {
            browser = "/usr/bin/chromium"
        } else {
            throw XCTSkip("no chromium (make test installs it and sets GALAXY_BROWSER)")
        }
        let profile = dir.appendingPathComponent("chromium-profile").path
        let common = ["--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--user-data-dir=\(profile)", "--virtual-time-budget=10000"]
        let dom = try exec(URL(fileURLWithPath: browser), common + ["--dump-dom", report.absoluteString])
        XCTAssertEqual(dom.status, 0, dom.stderr)
        let images = html.components(separatedBy: "<img ").count - 1
        XCTAssertGreaterThanOrEqual(images, 2 * (RunReport.galleryCount + RunReport.worstCount) + 2 * RunReport.saliencyCount - 8)
        XCTAssertEqual(attribute("data-images", in: dom.stdout), ["\(images)"], "the load script did not run")
        XCTAssertEqual(attribute("data-images-decoded", in: dom.stdout), ["\(images)"], "an image did not decode")
        let widths = attribute("data-natural-width", in: dom.stdout).compactMap(Int.init), heights = attribute("data-natural-height", in: dom.stdout).compactMap(Int.init)
        XCTAssertEqual(widths.count, images)
        XCTAssertEqual(heights.count, images)
        XCTAssertTrue(widths.allSatisfy { $0 > 0 } && heights.allSatisfy { $0 > 0 }, "an image of natural size 0")
        XCTAssertTrue(widths.contains(424) && widths.contains(138) && widths.contains(276), "originals, crops and saliency maps: \(Set(widths))")
        XCTAssertEqual(dom.stdout.components(separatedBy: "<svg class=\"plot curves\"").count - 1, 1)
        XCTAssertEqual(dom.stdout.components(separatedBy: "<svg class=\"plot questions\"").count - 1, 1)
        XCTAssertEqual(dom.stdout.components(separatedBy: "<svg class=\"plot calibration\"").count - 1, RunReport.calibrationColumns.count)
        XCTAssertGreaterThanOrEqual(dom.stdout.components(separatedBy: "<polyline").count - 1, 2 + RunReport.calibrationColumns.count)
        XCTAssertTrue(dom.stdout.contains("class=\"baseline\"") && dom.stdout.contains("class=\"best\""))

        let shot = dir.appendingPathComponent("report.png")
        let s = try exec(URL(fileURLWithPath: browser), common + ["--hide-scrollbars", "--window-size=1200,2400", "--screenshot=\(shot.path)", report.absoluteString])
        XCTAssertEqual(s.status, 0, s.stderr)
        let png = try [UInt8](Data(contentsOf: shot))
        let size = try XCTUnwrap(Self.pngSize(png), "the screenshot is not a PNG")
        XCTAssertEqual(size.0, 1200)
        XCTAssertEqual(size.1, 2400)
        // Kept for a look (GALAXY_REPORT_SCREENSHOT names the place; default: the temporary folder).
        let keep = env["GALAXY_REPORT_SCREENSHOT"] ?? FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-report-test.png").path
        try? FileManager.default.removeItem(atPath: keep)
        try FileManager.default.copyItem(at: shot, to: URL(fileURLWithPath: keep))
        print("report screenshot: \(keep)")
    }

    /// A report of someone else's data: column names and a run folder name full of markup are shown as text,
    /// in the page and in the browser's DOM, and the page allows no script but its own.
    func testHostileNamesAreShownAsTextAndRunNothing() throws {
        let data = dir.appendingPathComponent("data").path
        let run = dir.appendingPathComponent("run <b id=rundir>'\"&").path
        var r = try galaxy(["synth", "--count", "24", "--test-count", "0", "--seed", "4", "--out", data])
        XCTAssertEqual(r.status, 0, r.stderr)
        // Every column renamed (a saliency card names the answer with the largest output).
        let hostile = ["<img src=x onerror=document.body.id='pwned'>", "</svg><b id=svgbreak>x</b>", "y\" onclick=\"document.body.id='quoted'",
                       "]]><i id=cdata>z</i>", "<script>document.body.id='script'</script>", "x' onmouseover='document.body.id=1", "Ümlaut → 日本 & co"]
        let csv = URL(fileURLWithPath: data).appendingPathComponent("training_solutions_rev1.csv")
        var lines = try String(contentsOf: csv, encoding: .utf8).components(separatedBy: "\n")
        var header = lines[0].components(separatedBy: ",")
        // Each ends in an element too, so that whichever a card shows, unescaped it would make one.
        let names = header.indices.dropFirst().map { ($0 <= hostile.count ? hostile[$0 - 1] : "answer \($0) &amp;") + " <u>\($0)</u>" }
        header = ["GalaxyID"] + names
        lines[0] = header.joined(separator: ",")
        try lines.joined(separator: "\n").write(to: csv, atomically: true, encoding: .utf8)
        r = try galaxy(["train", "--data", data, "--run", run, "--epochs", "1", "--batch", "8", "--no-augment"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try galaxy(["report", run])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = URL(fileURLWithPath: run).appendingPathComponent("report.html")
        let html = try String(contentsOf: report, encoding: .utf8)
        XCTAssertTrue(html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"\(Page.contentSecurityPolicy)\">"), "no policy")
        XCTAssertEqual(html.components(separatedBy: "<script").count - 1, 1, "one script: the page's own")
        // An element or attribute made of the names would start with a raw "<", or close an attribute's quote.
        let injected = try NSRegularExpression(pattern: "<img src=\"?x|<b id=|<i id=|<u>|<[a-z][^<>]*\\s(onerror|onclick|onmouseover|onload)=|<script>document")
        func injections(_ text: String) -> [String] {
            injected.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { String(text[Range($0.range, in: text)!]) }
        }
        XCTAssertEqual(injections(html), [], "markup from the names reached the page")
        XCTAssertTrue(html.contains(HTML.escape(URL(fileURLWithPath: run).path)), "the run folder's name, escaped")

        let browser = try Self.browser()
        let profile = dir.appendingPathComponent("chromium-profile").path
        let dom = try exec(URL(fileURLWithPath: browser), ["--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--user-data-dir=\(profile)",
                                                           "--virtual-time-budget=5000", "--dump-dom", report.absoluteString])
        XCTAssertEqual(dom.status, 0, dom.stderr)
        let body = try XCTUnwrap(dom.stdout.range(of: "<body[^>]*>", options: .regularExpression).map { String(dom.stdout[$0]) })
        XCTAssertFalse(body.contains(" id=") || body.contains("pwned"), "the body was changed: \(body)")
        XCTAssertTrue(body.contains("data-images-decoded"), "the page's own script did not run under its policy: \(body)")
        XCTAssertEqual(injections(dom.stdout), [], "markup from the names became elements or attributes in the browser")
        for id in ["rundir", "svgbreak", "cdata"] { XCTAssertFalse(dom.stdout.contains("id=\"\(id)\""), "an element \(id) in the browser") }
        XCTAssertEqual(dom.stdout.components(separatedBy: "<script").count - 1, 1)
        // Shown as text: the browser serializes a text node with &, < and > escaped, quotes as they are.
        func asText(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        XCTAssertTrue(dom.stdout.contains("Run report: " + asText(URL(fileURLWithPath: run).path)), "the run folder's name is not shown as text")
        let shown = names.filter { dom.stdout.contains(asText($0)) }
        let headings = dom.stdout.components(separatedBy: "<h3>").dropFirst().map { $0.components(separatedBy: "</h3>")[0] }
        XCTAssertFalse(shown.isEmpty, "no card shows a renamed answer as text: \(headings.suffix(RunReport.saliencyCount))")
    }

    /// The one script the page's policy allows is allowed by its SHA-256 (python3's hashlib recomputes it).
    /// A Dirichlet checkpoint in the GZ DECaLS tree, built in this process without training (weights saved with the
    /// metadata a run records): the report has the tree's per-question sections, draws the 90% interval coverage per
    /// question beside the 90% target, and each gallery galaxy's answers with their 90% intervals.
    func testDirichletReportDrawsCoverageAndIntervalsInTheDECaLSTree() throws {
        let data = dir.appendingPathComponent("counts"), run = dir.appendingPathComponent("counts-run")
        let schema = AnswerSchema.decalsDR5
        _ = try GalaxySynth.write(to: data, options: .init(count: 24, seed: 5, counts: schema))
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try ModelWeights(outputs: schema.answerCount, seed: 8).save(to: run.appendingPathComponent(RunDirectory.bestWeights), metadata: [
            "format": "galaxy SanderDielemanNet", "output": OutputMode.dirichlet.rawValue, "columns": schema.columnNames.joined(separator: ","),
            AnswerSchema.metadataKey: schema.json])
        // A Dirichlet run's metrics.csv has NLL columns, as Trainer writes them: the curves are of those.
        let nll = [(1, 17.5, 18.25), (2, 16.75, 17.5)]
        try ("epoch,train_nll,test_nll,lr,seconds,images_per_second,step_seconds,host_share,dead_outputs\n"
             + nll.map { "\($0.0),\($0.1),\($0.2),0.01,1.0,10.0,1.0,0.0,0\n" }.joined())
            .write(to: run.appendingPathComponent(RunDirectory.metricsFile), atomically: true, encoding: .utf8)
        let report = try RunReport.build(runDir: run, data: DataSource(dataDir: data), context: try TestDevice.context())
        let numbers = try XCTUnwrap(report.numbers)
        XCTAssertEqual(numbers.questions.count, schema.questions.count, "per-question RMSE in the schema's questions")
        let coverage = try XCTUnwrap(numbers.coverage)
        XCTAssertEqual(coverage.count, schema.questions.count)
        let html = report.html
        for (q, question) in schema.questions.enumerated() {
            XCTAssertTrue(html.contains("<td>Q\(q + 1)</td><td>\(question.text)</td>"), "question \(question.id) named by its text")
            XCTAssertTrue(coverage[q].model >= 0 && coverage[q].model <= 1 && coverage[q].baseline >= 0 && coverage[q].baseline <= 1, "\(coverage[q])")
            XCTAssertTrue(html.contains("data-coverage-q=\"\(q + 1)\" data-coverage=\"\(RunReport.f5(coverage[q].model))\""), "coverage of \(question.id) in the table")
            XCTAssertTrue(html.contains("<rect class=\"coverage\" data-q=\"\(q + 1)\""), "coverage of \(question.id) drawn")
        }
        XCTAssertTrue(html.contains("class=\"target\" data-target=\"0.9\""), "the 90% target drawn")
        // The intervals: one per answer of each galaxy shown (the gallery's and the worst-predicted), each around its expected share.
        let groups = html.components(separatedBy: "<g class=\"interval\" ").dropFirst()
        XCTAssertEqual(groups.count, schema.answerCount * (min(RunReport.galleryCount, numbers.testCount) + min(RunReport.worstCount, numbers.testCount)))
        func value(_ name: String, _ g: String) -> Double? {
            guard let r = g.range(of: "\(name)=\"") else { return nil }
            return Double(g[r.upperBound...].prefix { $0 != "\"" })
        }
        for g in groups {
            let (low, e, high) = (try XCTUnwrap(value("data-low", g)), try XCTUnwrap(value("data-expected", g)), try XCTUnwrap(value("data-high", g)))
            XCTAssertTrue(0 <= low && low <= e && e <= high && high <= 1, "interval \(low) \(e) \(high)")
        }
        XCTAssertTrue(html.contains("class=\"observed\""), "observed shares drawn beside the intervals")
        XCTAssertFalse(report.omitted.contains { $0.contains("no decision tree") }, "\(report.omitted)")
        XCTAssertFalse(report.omitted.contains { $0.contains("no training curves") }, "\(report.omitted)")
        XCTAssertTrue(html.contains("Train and test NLL after each epoch") && html.contains(">NLL</text>"), "the curves are of the NLL")
        XCTAssertTrue(html.contains("best: epoch 2, 17.50000"), "the best test NLL marked")
        XCTAssertFalse(html.contains("<line class=\"baseline\""), "an RMSE baseline drawn on NLL curves")
    }

    func testThePolicyAllowsExactlyThePagesScript() throws {
        let p = Process(), out = Pipe(), input = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import sys, hashlib, base64; print(base64.b64encode(hashlib.sha256(sys.stdin.buffer.read()).digest()).decode())"]
        p.standardOutput = out
        p.standardInput = input
        try p.run()
        input.fileHandleForWriting.write(Data(Page.loadScript.utf8))
        try input.fileHandleForWriting.close()
        let digest = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        p.waitUntilExit()
        XCTAssertEqual(Page.loadScriptHash, "sha256-" + digest, "Page.loadScript changed: its hash in the policy must be \(digest)")
        XCTAssertTrue(Page.contentSecurityPolicy.hasPrefix("default-src 'none'; img-src data:;"), Page.contentSecurityPolicy)
        XCTAssertEqual(HTML.escape("<a href=\"x\" title='y'>&</a>"), "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;")
        let name = "<b>"
        let html: HTML = "<td title=\"\(name)\">\(name) \(3) \(0.5)</td>"
        XCTAssertEqual(html.markup, "<td title=\"&lt;b&gt;\">&lt;b&gt; 3 0.5</td>")
    }

    /// The browser `make test` uses (GALAXY_BROWSER), else Debian's chromium; skipped without one outside `make test`.
    static func browser() throws -> String {
        if let given = ProcessInfo.processInfo.environment["GALAXY_BROWSER"] {
            guard FileManager.default.isExecutableFile(atPath: given) else {
                XCTFail("GALAXY_BROWSER=\(given) is not installed (make browser)")
                throw XCTSkip("no browser")
            }
            return given
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") { return "/usr/bin/chromium" }
        throw XCTSkip("no chromium (make test installs it and sets GALAXY_BROWSER)")
    }

    /// `predict --explain`: the PNG, and with --json the gradient the reference network computes for the
    /// checkpoint's weights and the image's crop; then the bad inputs of report and predict.
    func testExplainAndBadInput() throws {
        let (data, run) = try trainedRun()
        let image = try FileManager.default.contentsOfDirectory(atPath: "\(data)/images_training_rev1").sorted()[0]
        let imagePath = "\(data)/images_training_rev1/\(image)", out = dir.appendingPathComponent("explain.png").path
        var r = try galaxy(["predict", "--json", "--checkpoint", "\(run)/best.safetensors", "--explain", out, "--answer", "Class4.1", imagePath])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(Self.pngSize(try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))).map { [$0.0, $0.1] }, [276, 276])
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let explain = try XCTUnwrap(json.first?["explain"] as? [String: Any])
        XCTAssertEqual(explain["answer"] as? String, "Class4.1")
        let gradient = try XCTUnwrap(explain["gradient"] as? [Double]).map(Float.init)
        XCTAssertEqual(gradient.count, 3 * 69 * 69)
        let (weights, meta) = try ModelWeights.load(URL(fileURLWithPath: "\(run)/best.safetensors"))
        let ref = ReferenceNetwork<Double>(weights, outputMode: try OutputMode(metadata: meta, file: "best"))
        let x = Reference.augment(images: try preprocessGalaxyImage(contentsOf: URL(fileURLWithPath: imagePath)), side: 69, indices: [0], mode: .none)
        var seed = [Double](repeating: 0, count: 37)
        seed[GalaxyZooTree.columnNames.firstIndex(of: "Class4.1")!] = 1
        let want = ref.inputGradient(ref.forward(x.map(Double.init), batch: 1), seed: seed, batch: 1)
        // Class4.1 is alive after this recipe (it answers about 0.09 for this image): a gradient of zeros on
        // both sides would compare nothing.
        XCTAssertTrue(want.contains { $0 != 0 }, "the reference's gradient for Class4.1 is all zero: the comparison checks nothing")
        XCTAssertTrue(gradient.contains { $0 != 0 }, "the explained gradient for Class4.1 is all zero")
        XCTAssertLessThan(SelfTest.relativeError(gradient, want), 1e-4)

        // An image that does not decode: named, and no picture.
        let bad = dir.appendingPathComponent("1234.jpg"), badOut = dir.appendingPathComponent("bad.png")
        try Data("not a jpeg".utf8).write(to: bad)
        r = try galaxy(["predict", "--checkpoint", "\(run)/best.safetensors", "--explain", badOut.path, bad.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(bad.path), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: badOut.path))
        r = try galaxy(["predict", "--checkpoint", "\(run)/best.safetensors", "--explain", out, "--answer", "Class12.9", imagePath])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("Class12.9"), r.stderr)

        // A run directory without checkpoints.
        let empty = dir.appendingPathComponent("empty-run")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        r = try galaxy(["report", empty.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(empty.path) && r.stderr.contains("no checkpoint"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: empty.appendingPathComponent("report.html").path))

        // Data that is not the run's: other galaxies (the split differs), other columns.
        let other = dir.appendingPathComponent("other").path
        XCTAssertEqual(try galaxy(["synth", "--count", "30", "--test-count", "0", "--seed", "9", "--out", other]).status, 0)
        r = try galaxy(["report", run, "--data", other])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(other) && r.stderr.contains("not this run's data"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(run)/report.html"), "a report was written for the wrong data")
        let csv = "\(other)/training_solutions_rev1.csv"
        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        let narrowed = lines.map { $0.split(separator: ",").prefix(4).joined(separator: ",") }.joined(separator: "\n") + "\n"
        try narrowed.write(toFile: csv, atomically: true, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: "\(other)/galaxy-cache.bin")
        r = try galaxy(["report", run, "--data", other])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(csv) && r.stderr.contains("columns"), r.stderr)

        // Images that no longer decode (zeros of the same size, the same mtime: the prepared cache still
        // matches them): the report names the first it shows, and writes nothing.
        let images = "\(data)/images_training_rev1"
        let script = "for f in \"$1\"/*.jpg; do cp -p \"$f\" \"$f.orig\"; head -c $(stat -c %s \"$f\") /dev/zero > \"$f\"; touch -r \"$f.orig\" \"$f\"; rm \"$f.orig\"; done"
        XCTAssertEqual(try exec(URL(fileURLWithPath: "/bin/sh"), ["-c", script, "sh", images]).status, 0)
        r = try galaxy(["report", run])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(images + "/") && r.stderr.contains(".jpg"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(run)/report.html"), "a report was written with an undecodable image")

        // The run's data folder gone: the report says what it left out and why.
        try FileManager.default.moveItem(atPath: data, toPath: data + "-moved")
        r = try galaxy(["report", run])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = try String(contentsOfFile: "\(run)/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<section id=\"curves\">") && html.contains("<svg class=\"plot curves\""))
        XCTAssertTrue(html.contains("is gone"), "the report should say the data is gone")
        XCTAssertFalse(html.contains("<img "))
    }
}
