import Foundation

/// `galaxy report`: one self-contained HTML page about a training run (plots as inline SVG, images as
/// data: URIs, nothing fetched when it is opened): the training curves, test RMSE per question and per
/// answer beside the constant-mean baseline, calibration of the main answers, a gallery of test galaxies
/// and the worst-predicted ones with their answers along the decision tree, and saliency maps.
public struct RunReport {
    /// The numbers the page shows, for checks (the page carries them as data attributes too).
    public struct Numbers: Sendable {
        public var testCount: Int
        public var rmse: Double
        public var baseline: Double
        /// Per question (Q1 first): model, baseline.
        public var questions: [(model: Double, baseline: Double)]
        /// A Dirichlet run's per-question coverage of the predictive 90% interval of the counts (CountEvaluation), else nil.
        public var coverage: [(model: Double, baseline: Double)]?
    }

    public var html: String
    /// The sections left out, each with why.
    public var omitted: [String]
    public var numbers: Numbers?
    public var checkpoint: URL

    public static let galleryCount = 6
    public static let worstCount = 6
    public static let saliencyCount = 4
    /// The Kaggle tree's main answers, picked by hand: smooth, features/disk, edge-on, bar, spiral, odd.
    public static let calibrationColumns = ["Class1.1", "Class1.2", "Class2.1", "Class3.1", "Class4.1", "Class6.1"]

    /// The answers whose calibration the report draws: Kaggle's picked ones, else each question's first answer (at most 6).
    static func calibrated(_ tree: AnswerSchema) -> [Int] {
        tree == .kaggle ? calibrationColumns.map { tree.columnNames.firstIndex(of: $0)! } : Array(tree.questionRanges.map(\.lowerBound).prefix(6))
    }

    /// Builds the report of `runDir`. `data`: the data folder given (else the one data.json records);
    /// `context`: the device for predictions and saliency (nil leaves those out). Throws, naming the file,
    /// for a run without a checkpoint, data that does not match the run, an image that does not decode.
    public static func build(runDir: URL, data given: DataSource?, context: VulkanContext?, log: (String) -> Void = { _ in }) throws -> RunReport {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: runDir.path, isDirectory: &isDir), isDir.boolValue else {
            throw GalaxyError.message("\(runDir.path): no such run directory")
        }
        let run = RunDirectory(unlocked: runDir)
        let checkpoint = [RunDirectory.bestWeights, RunDirectory.lastWeights].map(run.file).first { fm.fileExists(atPath: $0.path) }
        guard let checkpoint else {
            throw GalaxyError.message("\(runDir.path): no checkpoint (\(RunDirectory.bestWeights) or \(RunDirectory.lastWeights)): not a galaxy train run, or one that finished no epoch")
        }
        let (weights, meta) = try ModelWeights.load(checkpoint)
        let mode = try OutputMode(metadata: meta, file: checkpoint.path)
        let state = fm.fileExists(atPath: run.file(RunDirectory.lastState).path) ? try run.readState().state : nil
        let recordedColumns = meta["columns"] != nil || meta[AnswerSchema.metadataKey] != nil
        let columns = try (recordedColumns ? nil : state?.columns) ?? AnswerSchema.columns(metadata: meta, outputs: weights.outputs, file: checkpoint.path)
        // The decision tree of the columns (recorded, or the built-in one they are): per-question sections and answer tables.
        let tree = try AnswerSchema.implied(metadata: meta, outputs: weights.outputs, file: checkpoint.path).flatMap { $0.columnNames == columns ? $0 : nil }
        var omitted: [String] = []
        var page = Page(title: "galaxy run report: \(runDir.lastPathComponent)")
        page.add("<h1>Run report: \(runDir.path)</h1>")
        let stateText = state.map { ", \($0.epoch) epoch(s) done, batch \($0.options.batch), split seed \($0.options.splitSeed), test fraction \($0.options.testFraction)" } ?? ""
        page.add("<p class=\"meta\">checkpoint <code>\(checkpoint.lastPathComponent)</code>, output layer <code>\(mode.argument)</code>, \(weights.outputs) outputs\(stateText)</p>")

        // The data, when there is a folder to read.
        var dataset: GalaxyDataset?
        var source: DataSource?
        if let given {
            guard fm.fileExists(atPath: given.csv.path) else { throw GalaxyError.message("\(given.csv.path): not found (the data folder given with --data)") }
            source = given
        } else {
            do {
                let recorded = try RunData.load(runDir: runDir)
                if fm.fileExists(atPath: recorded.csv.path) { source = recorded } else {
                    omitted.append("the data folder the run recorded (\(recorded.dataDir.path)) is gone: no baseline, per-question RMSE, calibration, gallery or saliency (give the data with --data DIR)")
                }
            } catch {
                omitted.append("\(error): no baseline, per-question RMSE, calibration, gallery or saliency")
            }
        }
        if let source {
            log("data: \(source.dataDir.path)")
            let d = try GalaxyCache.loadOrPrepare(source, strict: false, progress: nil)
            guard d.columns == columns else {
                throw GalaxyError.message("\(source.csv.path): its columns (\(d.columns.count): \(d.columns.prefix(3).joined(separator: ","))...) are not the run's (\(columns.count): \(columns.prefix(3).joined(separator: ","))...): not this run's data")
            }
            dataset = d
        }
        let seed = state?.options.splitSeed ?? 42, fraction = state?.options.testFraction ?? 0.2
        var split: (train: [Int], test: [Int])?
        if let dataset {
            let s = trainTestSplit(count: dataset.count, testFraction: fraction, seed: seed)
            if let state, !state.splitDigest.isEmpty, Trainer.splitDigest(ids: dataset.ids, train: s.train) != state.splitDigest {
                throw GalaxyError.message("\(source!.dataDir.path): its galaxies do not make the run's train/test split (\(dataset.count) galaxies; the run's split differs): not this run's data")
            }
            if state == nil { omitted.append("\(run.file(RunDirectory.lastState).path) is missing: the split is the default (seed 42, test fraction 0.2), unchecked against the run") }
            split = s
        }

        // Predictions of the test split, and the baseline fitted on the training split.
        var pred: [Float] = [], target: [Float] = [], means: [Float] = []
        var concentrations: [Float] = []
        var numbers: Numbers?
        let k = weights.outputs
        if let dataset, let split, !split.test.isEmpty, let context {
            log("predicting \(split.test.count) test galaxies")
            pred = try Predictor(context: context, weights: weights, outputMode: mode, tree: tree,
                                 path: KernelPath.forWork(context.info, images: split.test.count)).predict(images: Metrics.images(dataset, split.test))
            target = Metrics.rows(dataset.targets, width: k, split.test)
            means = Metrics.columnMeans(dataset.targets, width: k, rows: split.train)
            var coverage: [(model: Double, baseline: Double)]?
            if mode == .dirichlet {
                guard let schema = tree else { throw GalaxyError.message("\(checkpoint.path): a dirichlet checkpoint without its schema in the metadata") }
                // The interval coverage per question (as galaxy eval's), against constant concentrations fitted to the training counts.
                concentrations = pred
                let fitted = CountStatistics.constantConcentrations(counts: dataset.targets, width: k, rows: split.train, questionStarts: schema.questionStarts)
                let evaluation = CountEvaluation.evaluate(schema: schema, counts: dataset.targets, rows: split.test, baseline: fitted) { r in
                    let j = split.test.firstIndex(of: r)!
                    return pred[(j * k)..<((j + 1) * k)].map(Double.init)
                }
                coverage = evaluation.questions.map { (model: $0.coverage, baseline: $0.baselineCoverage) }
                // The RMSE figures are of the expected shares of all volunteers against the observed shares.
                pred = ConcentrationAnswers.expectedFractions(schema: schema, rows: pred)
                target = ConcentrationAnswers.observedFractions(schema: schema, counts: target)
                means = Metrics.columnMeans(ConcentrationAnswers.observedFractions(schema: schema, counts: dataset.targets), width: k, rows: split.train)
                omitted.append("a dirichlet run: the RMSE below is of the expected vote shares of all volunteers against the observed ones "
                               + "(the likelihood per question is in galaxy eval's table); no saliency maps")
            }
            let baseline = split.test.flatMap { _ in means }
            numbers = Numbers(testCount: split.test.count, rmse: Metrics.rmse(pred, target), baseline: Metrics.rmse(baseline, target),
                              questions: tree?.questionRanges.map {
                                  (model: Metrics.rmse(pred, target, width: k, columns: $0), baseline: Metrics.rmse(baseline, target, width: k, columns: $0))
                              } ?? [], coverage: coverage)
        } else if dataset != nil && context == nil {
            omitted.append("no device: no predictions, so no per-question RMSE, calibration, gallery or saliency")
        } else if let split, split.test.isEmpty {
            omitted.append("the test split is empty: nothing to evaluate")
        }

        // 1. Training curves.
        page.section("curves", "Training curves")
        let metricsURL = run.file(RunDirectory.metricsFile)
        if let text = try? String(contentsOf: metricsURL, encoding: .utf8), let rows = MetricsCSV(text), !rows.epochs.isEmpty {
            if rows.measure == "RMSE" {
                page.add("<p>Train and test RMSE after each epoch (linear scale). The dashed line is the constant-mean baseline (every answer predicted as its training-split mean)"
                         + (numbers == nil ? ", left out here: no data" : "") + "; the green marker is the best test epoch, grey dotted lines the learning-rate changes.</p>")
            } else {
                page.add("<p>Train and test NLL after each epoch (linear scale): the mean negative log-likelihood of a galaxy's vote counts under the predicted "
                         + "Dirichlet-multinomial, summed over its questions (galaxy eval prints it per question beside the constant-concentration baseline). "
                         + "The green marker is the best test epoch, grey dotted lines the learning-rate changes.</p>")
            }
            page.add(Plots.curves(rows, baseline: rows.measure == "RMSE" ? numbers?.baseline : nil))
        } else {
            omitted.append("\(metricsURL.path) is missing or unreadable: no training curves")
            page.add("<p class=\"omitted\">No training curves: \(metricsURL.path) is missing or unreadable.</p>")
        }

        if let numbers {
            page.add("<p id=\"summary\" data-test-count=\"\(numbers.testCount)\" data-rmse=\"\(f5(numbers.rmse))\" data-baseline=\"\(f5(numbers.baseline))\">"
                     + "Test split: \(numbers.testCount) galaxies. RMSE <b>\(f5(numbers.rmse))</b>, constant-mean baseline \(f5(numbers.baseline)).</p>")
        }
        page.end()

        // 2. Per question and per answer.
        page.section("questions", "Test RMSE per question and per answer")
        if let numbers, !numbers.questions.isEmpty, let tree {
            page.add("<p>Each question's RMSE over its answer columns on the test split, beside the constant-mean baseline's. A question whose bar is not clearly below the baseline's is one the model has not learned.</p>")
            page.add(Plots.questionBars(numbers.questions))
            var t: HTML = "<table class=\"numbers\"><tr><th>question</th><th></th><th>model</th><th>baseline</th><th>model / baseline</th></tr>"
            for (q, v) in numbers.questions.enumerated() {
                t += "<tr data-q=\"\(q + 1)\" data-model=\"\(f5(v.model))\" data-baseline=\"\(f5(v.baseline))\"><td>Q\(q + 1)</td><td>\(tree.questionTexts[q])</td><td>\(f5(v.model))</td><td>\(f5(v.baseline))</td><td>\(String(format: "%.3f", v.model / v.baseline))</td></tr>"
            }
            page.add(t + "</table>")
            let baselineRows = split!.test.flatMap { _ in means }
            var a: HTML = "<details><summary>Per answer (click to open)</summary><table class=\"numbers\"><tr><th>answer</th><th></th><th>model</th><th>baseline</th><th>mean true</th></tr>"
            for c in 0..<k {
                let model = Metrics.rmse(pred, target, width: k, columns: c..<(c + 1))
                let base = Metrics.rmse(baselineRows, target, width: k, columns: c..<(c + 1))
                let meanTrue = stride(from: c, to: target.count, by: k).map { Double(target[$0]) }.reduce(0, +) / Double(numbers.testCount)
                a += "<tr data-answer=\"\(columns[c])\"><td>\(columns[c])</td><td>\(tree.answerLabels[c])</td><td>\(f5(model))</td><td>\(f5(base))</td><td>\(String(format: "%.3f", meanTrue))</td></tr>"
            }
            page.add(a + "</table></details>")
        } else {
            page.add("<p class=\"omitted\">Left out: " + (numbers == nil ? "no data or no device to evaluate on." : "the columns have no decision tree (no schema).") + "</p>")
            if numbers != nil { omitted.append("per-question RMSE, calibration and the answer tables: the columns have no decision tree (train with --schema)") }
        }
        page.end()

        // 2b. A Dirichlet run's uncertainty: the coverage of its 90% intervals per question, and the intervals of a few galaxies.
        if let coverage = numbers?.coverage, let tree {
            page.section("coverage", "Coverage of the 90% intervals")
            page.add("<p>Per question, the share of (test galaxy, answer) pairs whose observed count lies in the central 90% interval of its predicted "
                     + "Beta-binomial (as galaxy eval's table), beside the constant-concentration baseline's; the dashed line is the 90% target. "
                     + "Well below it the model is overconfident; with few votes per galaxy whole counts cover more than 90% (docs/guide-counts.md).</p>")
            page.add(Plots.coverageBars(coverage, labels: tree.questions.map(\.id)))
            var t: HTML = "<table class=\"numbers\"><tr><th>question</th><th></th><th>coverage</th><th>baseline</th><th>target</th></tr>"
            for (q, v) in coverage.enumerated() {
                t += "<tr data-coverage-q=\"\(q + 1)\" data-coverage=\"\(f5(v.model))\" data-coverage-baseline=\"\(f5(v.baseline))\"><td>Q\(q + 1)</td><td>\(tree.questionTexts[q])</td>"
                    + "<td>\(String(format: "%.1f%%", 100 * v.model))</td><td>\(String(format: "%.1f%%", 100 * v.baseline))</td><td>90%</td></tr>"
            }
            page.add(t + "</table>")
            page.end()
        }

        // 3. Calibration.
        page.section("calibration", "Calibration")
        if numbers != nil, let tree {
            page.add("<p>Predicted against true vote fraction of the main answers on the test split: grey dots are galaxies (at most 400), the blue line the mean true fraction in each tenth of the predicted range, the diagonal perfect calibration. Blue above the diagonal: the model under-predicts there.</p><div class=\"grid\">")
            for c in calibrated(tree) {
                let p = stride(from: c, to: pred.count, by: k).map { Double(pred[$0]) }, t = stride(from: c, to: target.count, by: k).map { Double(target[$0]) }
                page.add(Plots.calibration(name: "\(columns[c]) \(AnswerTable.label(tree, c))", predicted: p, truth: t))
            }
            page.add("</div>")
        } else {
            page.add("<p class=\"omitted\">Left out: " + (numbers == nil ? "no data or no device to evaluate on." : "the columns have no decision tree (no schema).") + "</p>")
        }
        page.end()

        // 4-6. Gallery, worst, saliency.
        if let dataset, let split, let source, numbers != nil {
            let rowError: [Double] = (0..<split.test.count).map { i in
                Metrics.rmse(Array(pred[i * k..<(i + 1) * k]), Array(target[i * k..<(i + 1) * k]))
            }
            func card(_ i: Int) throws -> HTML {
                let row = split.test[i], id = dataset.ids[row]
                let url = source.imageURL(for: id)
                let bytes: [UInt8]
                do { bytes = try readFileBytes(url) } catch { throw GalaxyError.message("\(url.path): cannot be read (\(error))") }
                _ = try JPEG.decode(bytes, name: url.path)
                let crop = Array(dataset.images[row * GalaxyDataset.imageBytes..<(row + 1) * GalaxyDataset.imageBytes])
                var s: HTML = "<div class=\"card\" data-galaxy=\"\(id)\"><h3>GalaxyID \(id) <small>RMSE \(f5(rowError[i]))</small></h3><div class=\"pics\">"
                s += "<figure><img class=\"original\" width=\"212\" height=\"212\" alt=\"original \(id)\" src=\"data:image/jpeg;base64,\(Data(bytes).base64EncodedString())\"><figcaption>original</figcaption></figure>"
                s += "<figure><img class=\"crop\" width=\"138\" height=\"138\" alt=\"crop \(id)\" src=\"\(try jpegURI(SaliencyPicture.crop(crop, zoom: 2)))\"><figcaption>69x69 crop (2x)</figcaption></figure></div>"
                if let tree { s += answerTable(prediction: Array(pred[i * k..<(i + 1) * k]), truth: Array(target[i * k..<(i + 1) * k]), tree: tree) }
                if let tree, !concentrations.isEmpty {
                    let observed = Array(dataset.targets[row * k..<(row + 1) * k])
                    s += Plots.intervals(ConcentrationAnswers(schema: tree, concentrations: concentrations[i * k..<(i + 1) * k].map(Double.init)), observed: observed)
                }
                return s + "</div>"
            }
            page.section("gallery", "Test galaxies")
            page.add("<p>The first test galaxies: the original image, the 69x69 crop the network saw, and per question of the decision tree the true and predicted top answers with their vote fractions (a question is only asked of the votes its parent answer gets: its weight is that answer's true fraction; a mismatch is red).</p><div class=\"cards\">")
            let shown = Array(0..<min(galleryCount, split.test.count))
            for i in shown { page.add(try card(i)) }
            page.add("</div>")
            page.end()
            page.section("worst", "The worst-predicted test galaxies")
            page.add("<p>The test galaxies with the largest RMSE over their \(k) answers.</p><div class=\"cards\">")
            let worst = rowError.indices.sorted { rowError[$0] > rowError[$1] }.prefix(worstCount)
            for i in worst { page.add(try card(i)) }
            page.add("</div>")
            page.end()
            page.section("saliency", "Saliency maps")
            if let context, mode != .dirichlet {
                let rows = Array(shown.prefix(saliencyCount))
                log("saliency of \(rows.count) galaxies")
                let mapper = try SaliencyMapper(context: context, weights: weights, columns: columns, maxBatch: max(1, rows.count), outputMode: mode,
                                                tree: tree, path: KernelPath.forWork(context.info, images: rows.count))
                let images = Metrics.images(dataset, rows.map { split.test[$0] })
                let explained = try mapper.explain(images: images, answers: rows.map { _ in nil })
                page.add("<p>Where in the crop the answer comes from: the gradient of the answer named (Question 1's predicted top answer) with respect to the input pixels, computed by the backward shaders down to conv1's input; brightness is the largest |gradient| over the three colour channels, scaled to the image's largest.</p><div class=\"cards\">")
                for (j, e) in explained.enumerated() {
                    let crop = Array(images[j * GalaxyDataset.imageBytes..<(j + 1) * GalaxyDataset.imageBytes])
                    let id = dataset.ids[split.test[rows[j]]]
                    let zero = e.gradient.allSatisfy { $0 == 0 }
                    page.add("<div class=\"card\" data-galaxy=\"\(id)\"><h3>GalaxyID \(id): \(columns[e.answer]) \(tree.map { AnswerTable.label($0, e.answer) } ?? "")"
                             + " <small>predicted \(String(format: "%.3f", e.outputs[e.answer]))</small></h3><div class=\"pics\">"
                             + "<figure><img class=\"crop\" width=\"276\" height=\"276\" alt=\"crop \(id)\" src=\"\(try jpegURI(SaliencyPicture.crop(crop, zoom: 4)))\"><figcaption>crop (4x)</figcaption></figure>"
                             + "<figure><img class=\"saliency\" width=\"276\" height=\"276\" alt=\"saliency \(id)\" src=\"\(try jpegURI(SaliencyPicture.render(crop: crop, gradient: e.gradient)))\"><figcaption>"
                             + (zero ? "gradient zero (the output is dead here)" : "|d answer / d pixel|") + "</figcaption></figure></div></div>")
                }
                page.add("</div>")
            }
            page.end()
        } else {
            for (id, title) in [("gallery", "Test galaxies"), ("worst", "The worst-predicted test galaxies"), ("saliency", "Saliency maps")] {
                page.section(id, title)
                page.add("<p class=\"omitted\">Left out: no data or no device to evaluate on (see below).</p>")
                page.end()
            }
        }

        page.section("omitted", "Left out")
        page.add(omitted.isEmpty ? "<p>Nothing: every section is complete.</p>" : "<ul>\(omitted.map { (o: String) -> HTML in "<li>\(o)</li>" }.joined())</ul>")
        page.end()
        return RunReport(html: page.finish(), omitted: omitted, numbers: numbers, checkpoint: checkpoint)
    }

    /// The seed's answer table drawn: per question of `tree` its true and predicted top answers.
    static func answerTable(prediction: [Float], truth: [Float], tree: AnswerSchema) -> HTML {
        let p = AnswerTable.bestAnswers(prediction, tree: tree), t = AnswerTable.bestAnswers(truth, tree: tree)
        var s: HTML = "<table class=\"answers\"><tr><th>question</th><th>weight</th><th>true</th><th>predicted</th></tr>"
        for q in 0..<tree.questionRanges.count {
            let weight = tree.parentColumn[q].map { truth[$0] } ?? 1
            let miss = p[q].label != t[q].label
            s += "<tr class=\"\(weight < 0.2 ? "faint" : "")\(miss ? " miss" : "")\"><td>Q\(q + 1) \(tree.questionTexts[q])</td><td>\(String(format: "%.2f", weight))</td>"
                + "<td>\(t[q].label) \(String(format: "%.3f", t[q].value))</td><td>\(p[q].label) \(String(format: "%.3f", p[q].value))</td></tr>"
        }
        return s + "</table>"
    }

    /// Pictures go in as JPEG (quality 92): a tenth of an uncompressed PNG's bytes.
    static func jpegURI(_ image: RGBImage) throws -> String { "data:image/jpeg;base64," + Data(try JPEG.encode(image, quality: 92)).base64EncodedString() }
    static func f5(_ v: Double) -> String { String(format: "%.5f", v) }
}

/// metrics.csv read back by its header: the columns the report plots.
struct MetricsCSV {
    var epochs: [Int] = [], train: [Double] = [], test: [Double] = [], lr: [Double] = []
    /// What the curves measure: "RMSE" (train_rmse, test_rmse) or, for a Dirichlet run (vote counts), "NLL"
    /// (train_nll, test_nll: the mean negative log-likelihood of a galaxy's counts).
    var measure = "RMSE"

    init?(_ text: String) {
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else { return nil }
        if !header.contains("train_rmse") && header.contains("train_nll") { measure = "NLL" }
        let column = measure.lowercased()
        guard let e = header.firstIndex(of: "epoch"), let tr = header.firstIndex(of: "train_\(column)"),
              let te = header.firstIndex(of: "test_\(column)"), let l = header.firstIndex(of: "lr") else { return nil }
        for row in lines.dropFirst() where row.count == header.count {
            guard let epoch = Int(row[e]), let a = Double(row[tr]), let b = Double(row[te]), let c = Double(row[l]) else { return nil }
            epochs.append(epoch); train.append(a); test.append(b); lr.append(c)
        }
    }
}

/// The HTML page: a style sheet, sections, and a script that records on load whether each image decoded.
/// Everything goes in as `HTML`, which escapes what is interpolated into it; and the page's
/// Content-Security-Policy lets nothing run or load but its own script and data: images, so that a hole
/// in the escaping would still run nothing.
struct Page {
    private var body: HTML = ""
    let title: String
    init(title: String) { self.title = title }
    mutating func add(_ s: HTML) { body += s + "\n" }
    mutating func section(_ id: String, _ title: String) { body += "<section id=\"\(id)\"><h2>\(title)</h2>\n" }
    mutating func end() { body += "</section>\n" }

    /// The page's one script: on load, each image's natural size and how many decoded, as attributes the
    /// tests read from the browser's DOM.
    static let loadScript = """

        window.addEventListener('load', function () {
          var images = document.querySelectorAll('img'), decoded = 0;
          images.forEach(function (img) {
            img.setAttribute('data-natural-width', img.naturalWidth);
            img.setAttribute('data-natural-height', img.naturalHeight);
            if (img.complete && img.naturalWidth > 0) decoded++;
          });
          document.body.setAttribute('data-images', images.length);
          document.body.setAttribute('data-images-decoded', decoded);
        });

        """
    /// SHA-256 of `loadScript`, base64: the one script the policy allows (ReportTests recomputes it).
    static let loadScriptHash = "sha256-z3IroLlqlGQ7LafqdpiPQovrfL6wgh7EKy8+eRDVpaw="
    /// No source of any kind but data: images, inline styles and the load script by its hash.
    static let contentSecurityPolicy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src '\(loadScriptHash)'; "
        + "base-uri 'none'; form-action 'none'"

    func finish() -> String {
        let page: HTML = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="\(unescaped: Page.contentSecurityPolicy)">
        <title>\(title)</title>
        <style>
        body { font-family: sans-serif; margin: 1.5em auto; max-width: 1150px; color: #222; }
        h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
        .meta, small { color: #666; }
        table { border-collapse: collapse; font-size: 13px; margin: .5em 0; }
        td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: left; }
        table.numbers td:nth-child(n+3) { text-align: right; font-family: monospace; }
        .grid { display: flex; flex-wrap: wrap; gap: 8px; }
        .cards { display: flex; flex-wrap: wrap; gap: 14px; }
        .card { border: 1px solid #ddd; padding: 8px; border-radius: 4px; }
        .card h3 { font-size: 14px; margin: 0 0 6px 0; }
        .pics { display: flex; gap: 8px; align-items: flex-end; }
        figure { margin: 0; } figcaption { font-size: 12px; color: #666; }
        img { image-rendering: pixelated; }
        table.answers { font-size: 11px; } tr.faint { color: #aaa; } tr.miss td:nth-child(4) { color: #c00; font-weight: bold; }
        .omitted { color: #a60; }
        </style></head>
        <body>
        \(body)<script>\(unescaped: Page.loadScript)</script>
        </body></html>

        """
        return page.markup
    }
}

/// The report's SVG plots.
enum Plots {
    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Nice tick values covering lo...hi.
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        let span = max(hi - lo, 1e-9), raw = span / Double(count)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        var v = ceil(lo / step) * step, out: [Double] = []
        while v <= hi + step * 1e-6 { out.append(v); v += step }
        return out
    }

    static func curves(_ m: MetricsCSV, baseline: Double?) -> HTML {
        let (width, height, left, right, top, bottom) = (760.0, 360.0, 70.0, 20.0, 20.0, 50.0)
        let pw = width - left - right, ph = height - top - bottom
        let values = (m.train + m.test + (baseline.map { [$0] } ?? [])).filter(\.isFinite)
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        let pad = max((hi - lo) * 0.08, 1e-4)
        lo = max(0, lo - pad); hi += pad
        let n = m.epochs.count
        func x(_ i: Int) -> Double { left + (n <= 1 ? pw / 2 : pw * Double(i) / Double(n - 1)) }
        func y(_ v: Double) -> Double { top + ph * (1 - (v - lo) / (hi - lo)) }
        var s: HTML = "<svg class=\"plot curves\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-size=\"12\">"
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>"
        for t in ticks(lo, hi) {
            s += "<line x1=\"\(left)\" x2=\"\(left + pw)\" y1=\"\(f(y(t)))\" y2=\"\(f(y(t)))\" stroke=\"#eee\"/><text x=\"\(left - 6)\" y=\"\(f(y(t) + 4))\" text-anchor=\"end\">\(String(format: "%g", t))</text>"
        }
        let step = max(1, Int((Double(n) / 10).rounded(.up)))
        for i in stride(from: 0, to: n, by: step) { s += "<text x=\"\(f(x(i)))\" y=\"\(f(top + ph + 18))\" text-anchor=\"middle\">\(m.epochs[i])</text>" }
        s += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">epoch</text>"
        s += "<text x=\"16\" y=\"\(f(top + ph / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(top + ph / 2)))\">\(m.measure)</text>"
        for i in 1..<max(1, n) where m.lr[i] != m.lr[i - 1] {
            s += "<line class=\"lr-change\" x1=\"\(f(x(i)))\" x2=\"\(f(x(i)))\" y1=\"\(top)\" y2=\"\(top + ph)\" stroke=\"#999\" stroke-dasharray=\"2 3\"/>"
                + "<text x=\"\(f(x(i) + 3))\" y=\"\(top + 12)\" fill=\"#666\">lr \(String(format: "%g", m.lr[i]))</text>"
        }
        if let best = m.test.indices.filter({ m.test[$0].isFinite }).min(by: { m.test[$0] < m.test[$1] }) {
            s += "<circle class=\"best\" cx=\"\(f(x(best)))\" cy=\"\(f(y(m.test[best])))\" r=\"7\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2.5\"/>"
                + "<text x=\"\(f(x(best)))\" y=\"\(f(y(m.test[best]) + 22))\" text-anchor=\"\(best * 2 >= n ? "end" : best * 2 < n - 1 ? "start" : "middle")\" fill=\"#2ca02c\">best: epoch \(m.epochs[best]), \(String(format: "%.5f", m.test[best]))</text>"
        }
        if let b = baseline {
            s += "<line class=\"baseline\" x1=\"\(left)\" x2=\"\(left + pw)\" y1=\"\(f(y(b)))\" y2=\"\(f(y(b)))\" stroke=\"#d62728\" stroke-dasharray=\"6 4\"/>"
        }
        for (series, color) in [(m.train, "#1f77b4"), (m.test, "#ff7f0e")] {
            let pts = series.enumerated().filter { $0.element.isFinite }.map { "\(f(x($0.offset))),\(f(y($0.element)))" }
            s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(pts.joined(separator: " "))\"/>"
            for p in pts { let xy = p.split(separator: ","); s += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"2.5\" fill=\"\(color)\"/>" }
        }
        var legend = [("#1f77b4", "train", ""), ("#ff7f0e", "test", "")]
        if baseline != nil { legend.append(("#d62728", "constant-mean baseline", "6 4")) }
        for (j, (color, name, dash)) in legend.enumerated() {
            let ly = top + 16 + 18 * Double(j)
            s += "<line x1=\"\(f(left + pw - 200))\" x2=\"\(f(left + pw - 176))\" y1=\"\(f(ly - 4))\" y2=\"\(f(ly - 4))\" stroke=\"\(color)\" stroke-width=\"2\" stroke-dasharray=\"\(dash)\"/><text x=\"\(f(left + pw - 170))\" y=\"\(f(ly))\">\(name)</text>"
        }
        return s + "</svg>"
    }

    /// Per question the coverage of the 90% intervals (model, baseline) as bars on 0-100%, with the 90% target dashed.
    static func coverageBars(_ q: [(model: Double, baseline: Double)], labels: [String]) -> HTML {
        let (width, height, left, top, bottom) = (760.0, 240.0, 50.0, 20.0, 40.0)
        let pw = width - left - 20, ph = height - top - bottom
        func y(_ v: Double) -> Double { top + ph * (1 - min(max(v, 0), 1)) }
        let slot = pw / Double(max(q.count, 1)), bar = slot * 0.35
        var s: HTML = "<svg class=\"plot coverage\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-size=\"12\">"
        for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
            s += "<line x1=\"\(left)\" x2=\"\(left + pw)\" y1=\"\(f(y(t)))\" y2=\"\(f(y(t)))\" stroke=\"#eee\"/><text x=\"\(left - 6)\" y=\"\(f(y(t) + 4))\" text-anchor=\"end\">\(Int(t * 100))%</text>"
        }
        for (i, v) in q.enumerated() {
            let x0 = left + slot * Double(i) + slot * 0.15
            for (j, (value, color)) in [(v.model, "#1f77b4"), (v.baseline, "#bbbbbb")].enumerated() where value.isFinite {
                s += "<rect class=\"\(j == 0 ? "coverage" : "coverage-baseline")\" data-q=\"\(i + 1)\" x=\"\(f(x0 + bar * Double(j)))\" y=\"\(f(y(value)))\" width=\"\(f(bar))\" "
                    + "height=\"\(f(top + ph - y(value)))\" fill=\"\(color)\"><title>\(i < labels.count ? labels[i] : "Q\(i + 1)") \(j == 0 ? "model" : "baseline") \(String(format: "%.1f%%", 100 * value))</title></rect>"
            }
            s += "<text x=\"\(f(x0 + bar))\" y=\"\(f(top + ph + 16))\" text-anchor=\"middle\">Q\(i + 1)</text>"
        }
        s += "<line class=\"target\" data-target=\"0.9\" x1=\"\(left)\" x2=\"\(left + pw)\" y1=\"\(f(y(0.9)))\" y2=\"\(f(y(0.9)))\" stroke=\"#d62728\" stroke-dasharray=\"6 4\"/>"
        s += "<line x1=\"\(left)\" x2=\"\(left + pw)\" y1=\"\(top + ph)\" y2=\"\(top + ph)\" stroke=\"#333\"/>"
        s += "<text x=\"\(left + pw - 4)\" y=\"\(f(y(0.9) - 4))\" text-anchor=\"end\" fill=\"#d62728\">90% target</text>"
        return s + "</svg>"
    }

    /// One galaxy's answers from its concentrations: per answer (rows, grouped by question) the expected share of the
    /// question's volunteers as a dot on its 90% interval (a bar on 0-1), and the observed share where it had votes (a red tick).
    static func intervals(_ answers: ConcentrationAnswers, observed counts: [Float]) -> HTML {
        let tree = answers.schema
        let (row, left, plot) = (13.0, 190.0, 180.0)
        let height = row * Double(tree.answerCount) + 22
        func x(_ v: Double) -> Double { left + plot * min(max(v, 0), 1) }
        var s: HTML = "<svg class=\"plot intervals\" width=\"\(Int(left + plot + 10))\" height=\"\(Int(height))\" font-size=\"10\">"
        for v in [0.0, 0.5, 1.0] {
            s += "<line x1=\"\(f(x(v)))\" x2=\"\(f(x(v)))\" y1=\"4\" y2=\"\(f(height - 14))\" stroke=\"#eee\"/><text x=\"\(f(x(v)))\" y=\"\(f(height - 3))\" text-anchor=\"middle\">\(String(format: "%g", v))</text>"
        }
        for (q, range) in tree.questionRanges.enumerated() {
            let votes = range.reduce(0.0) { $0 + Double(counts[$1]) }
            for c in range {
                let y = 10 + row * Double(c), i = answers.interval[c], e = answers.expectedShare[c]
                if range.lowerBound == c && q > 0 { s += "<line x1=\"0\" x2=\"\(f(left + plot))\" y1=\"\(f(y - row / 2))\" y2=\"\(f(y - row / 2))\" stroke=\"#ddd\"/>" }
                s += "<g class=\"interval\" data-answer=\"\(tree.columnNames[c])\" data-expected=\"\(RunReport.f5(e))\" data-low=\"\(RunReport.f5(i.lowerBound))\" data-high=\"\(RunReport.f5(i.upperBound))\">"
                    + "<text x=\"\(f(left - 6))\" y=\"\(f(y + 3))\" text-anchor=\"end\">\(AnswerTable.label(tree, c))</text>"
                    + "<line x1=\"\(f(x(i.lowerBound)))\" x2=\"\(f(x(i.upperBound)))\" y1=\"\(f(y))\" y2=\"\(f(y))\" stroke=\"#1f77b4\" stroke-width=\"3\"/>"
                    + "<circle cx=\"\(f(x(e)))\" cy=\"\(f(y))\" r=\"3\" fill=\"#0b3d66\"/>"
                if votes > 0 {
                    let share = Double(counts[c]) / votes
                    s += "<line class=\"observed\" data-observed=\"\(RunReport.f5(share))\" x1=\"\(f(x(share)))\" x2=\"\(f(x(share)))\" y1=\"\(f(y - 5))\" y2=\"\(f(y + 5))\" stroke=\"#d62728\" stroke-width=\"2\"/>"
                }
                s += "<title>\(tree.columnNames[c]): expected share \(String(format: "%.3f", e)), 90% interval \(String(format: "%.3f", i.lowerBound))-\(String(format: "%.3f", i.upperBound))"
                    + (votes > 0 ? ", observed \(Int(counts[c])) of \(Int(votes))" : ", no votes") + "</title></g>"
            }
        }
        return s + "</svg>"
    }

    static func questionBars(_ q: [(model: Double, baseline: Double)]) -> HTML {
        let (width, height, left, top, bottom) = (760.0, 260.0, 60.0, 20.0, 40.0)
        let pw = width - left - 20, ph = height - top - bottom
        let hi = (q.flatMap { [$0.model, $0.baseline] }.filter(\.isFinite).max() ?? 1) * 1.1
        func y(_ v: Double) -> Double { top + ph * (1 - v / hi) }
        let slot = pw / Double(q.count), bar = slot * 0.35
        var s: HTML = "<svg class=\"plot questions\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-size=\"12\">"
        for t in ticks(0, hi) {
            s += "<line x1=\"\(left)\" x2=\"\(left + pw)\" y1=\"\(f(y(t)))\" y2=\"\(f(y(t)))\" stroke=\"#eee\"/><text x=\"\(left - 6)\" y=\"\(f(y(t) + 4))\" text-anchor=\"end\">\(String(format: "%g", t))</text>"
        }
        for (i, v) in q.enumerated() {
            let x0 = left + slot * Double(i) + slot * 0.15
            for (j, (value, color)) in [(v.model, "#1f77b4"), (v.baseline, "#bbbbbb")].enumerated() where value.isFinite {
                s += "<rect x=\"\(f(x0 + bar * Double(j)))\" y=\"\(f(y(value)))\" width=\"\(f(bar))\" height=\"\(f(top + ph - y(value)))\" fill=\"\(color)\"><title>Q\(i + 1) \(j == 0 ? "model" : "baseline") \(String(format: "%.5f", value))</title></rect>"
            }
            s += "<text x=\"\(f(x0 + bar))\" y=\"\(f(top + ph + 16))\" text-anchor=\"middle\">Q\(i + 1)</text>"
        }
        s += "<line x1=\"\(left)\" x2=\"\(left + pw)\" y1=\"\(top + ph)\" y2=\"\(top + ph)\" stroke=\"#333\"/>"
        s += "<rect x=\"\(left + pw - 170)\" y=\"\(top)\" width=\"12\" height=\"12\" fill=\"#1f77b4\"/><text x=\"\(left + pw - 152)\" y=\"\(top + 10)\">model</text>"
        s += "<rect x=\"\(left + pw - 100)\" y=\"\(top)\" width=\"12\" height=\"12\" fill=\"#bbbbbb\"/><text x=\"\(left + pw - 82)\" y=\"\(top + 10)\">baseline</text>"
        return s + "</svg>"
    }

    static func calibration(name: String, predicted p: [Double], truth t: [Double]) -> HTML {
        let (size, m) = (250.0, 36.0)
        let pw = size - m - 10
        func x(_ v: Double) -> Double { m + pw * min(max(v, 0), 1) }
        func y(_ v: Double) -> Double { 10 + pw * (1 - min(max(v, 0), 1)) }
        var s: HTML = "<svg class=\"plot calibration\" width=\"\(Int(size))\" height=\"\(Int(size + 16))\" font-size=\"11\">"
        s += "<rect x=\"\(m)\" y=\"10\" width=\"\(pw)\" height=\"\(pw)\" fill=\"none\" stroke=\"#333\"/>"
        s += "<line class=\"diagonal\" x1=\"\(f(x(0)))\" y1=\"\(f(y(0)))\" x2=\"\(f(x(1)))\" y2=\"\(f(y(1)))\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>"
        for v in [0.0, 0.5, 1.0] {
            s += "<text x=\"\(f(x(v)))\" y=\"\(f(10 + pw + 12))\" text-anchor=\"middle\">\(String(format: "%g", v))</text><text x=\"\(m - 4)\" y=\"\(f(y(v) + 4))\" text-anchor=\"end\">\(String(format: "%g", v))</text>"
        }
        let every = max(1, p.count / 400)
        for i in stride(from: 0, to: p.count, by: every) where p[i].isFinite { s += "<circle cx=\"\(f(x(p[i])))\" cy=\"\(f(y(t[i])))\" r=\"1.6\" fill=\"#999\" fill-opacity=\"0.6\"/>" }
        var pts: [String] = []
        for b in 0..<10 {
            let inBin = p.indices.filter { p[$0].isFinite && max(0, min(Int(p[$0] * 10), 9)) == b }
            guard !inBin.isEmpty else { continue }
            let mp = inBin.map { p[$0] }.reduce(0, +) / Double(inBin.count), mt = inBin.map { t[$0] }.reduce(0, +) / Double(inBin.count)
            pts.append("\(f(x(mp))),\(f(y(mt)))")
        }
        if !pts.isEmpty {
            s += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"\(pts.joined(separator: " "))\"/>"
            for q in pts { let xy = q.split(separator: ","); s += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"3\" fill=\"#1f77b4\"/>" }
        }
        s += "<text x=\"\(f(m + pw / 2))\" y=\"\(f(size + 12))\" text-anchor=\"middle\">\(name): predicted (x) vs true (y)</text>"
        return s + "</svg>"
    }
}
