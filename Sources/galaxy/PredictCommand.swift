import ArgumentParser
import Foundation
import GalaxyKit

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Predict the Galaxy Zoo answers of single images and print the seed's answer table.")

    @Option(help: "Weights (safetensors with PyTorch state_dict names).") var checkpoint: String
    @Option(help: "Labels CSV; when it holds an image's GalaxyID the true answers are shown beside the prediction.") var labels: String?
    @Flag(help: "Print JSON: per image its path and every output by column name.") var json = false
    @Option(help: "Vulkan device index or name substring.") var device: String?
    @Option(help: "Test-time augmentation: average over this many views (1-8: rotations by 90 degrees, then the same flipped).") var tta = 1
    @Option(help: ArgumentHelp("Saliency map: the gradient of one answer with respect to the input pixels, drawn over the crop, as a PNG (one image only).",
                               valueName: "OUT.png")) var explain: String?
    @Option(help: "The answer --explain explains (default: the predicted top answer of Question 1), e.g. Class4.1.") var answer: String?
    @Argument(help: "JPEG or PNG images (<GalaxyID>.jpg).") var images: [String]

    func validate() throws {
        if explain != nil && images.count != 1 { throw ValidationError("--explain takes exactly one image") }
        if explain != nil && tta != 1 { throw ValidationError("--explain explains the plain view: drop --tta") }
        if answer != nil && explain == nil { throw ValidationError("--answer goes with --explain") }
    }

    func run() throws {
        try reportingErrors {
            guard !images.isEmpty else { throw ValidationError("give at least one image") }
            let (weights, meta) = try ModelWeights.load(URL(fileURLWithPath: checkpoint))
            // The checkpoint's tree (recorded, or the built-in one its columns are) names the columns and the table's answers.
            let tree = try AnswerSchema.implied(metadata: meta, outputs: weights.outputs, file: checkpoint)
            let columns = try AnswerSchema.columns(metadata: meta, outputs: weights.outputs, file: checkpoint)
            let truth = try labels.map { try GalaxyLabels.load(URL(fileURLWithPath: $0)) }
            var pixels = [UInt8]()
            for path in images { pixels += try preprocessGalaxyImage(contentsOf: URL(fileURLWithPath: path)) }
            let context = try openDevice(device)
            let views = try ttaViews(tta)
            // Tiles by the work (lavapipe: up to one batch of views, the kernels quickest to create, 0.1 s against 10 s).
            let tiles = KernelPath.forWork(context.info, images: images.count * views.count)
            let outputs = try Predictor(context: context, weights: weights, maxBatch: min(images.count, 128),
                                        outputMode: try OutputMode(metadata: meta, file: checkpoint), tree: tree, path: tiles).predict(images: pixels, views: views)
            let k = weights.outputs
            let mode = try OutputMode(metadata: meta, file: checkpoint)
            if mode == .dirichlet {
                try printConcentrations(outputs, columns: columns, meta: meta, truth: truth)
                return
            }
            var explanation: SaliencyMapper.Explanation?
            if let explain {
                let mapper = try SaliencyMapper(context: context, weights: weights, columns: columns, maxBatch: 1,
                                                outputMode: try OutputMode(metadata: meta, file: checkpoint), tree: tree, path: tiles)
                let e = try mapper.explain(images: pixels, answers: [try answer.map { try mapper.column(named: $0) }])[0]
                try AtomicFile.write(Data(PNG.encode(SaliencyPicture.render(crop: pixels, gradient: e.gradient))), to: URL(fileURLWithPath: explain))
                let note = e.gradient.allSatisfy { $0 == 0 } ? " (the gradient is zero: this output is dead here, behind the final ReLU)" : ""
                log("saliency of \(columns[e.answer]) (output " + String(format: "%.4f", e.outputs[e.answer]) + ") written to \(explain)" + note)
                explanation = e
            }
            var records: [[String: Any]] = []
            for (i, path) in images.enumerated() {
                let row = Array(outputs[i * k..<(i + 1) * k])
                let id = Int64(URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
                let trueRow = truth.flatMap { t -> [Float]? in
                    guard let id, let r = t.ids.firstIndex(of: id) else { return nil }
                    let index = columns.map { t.columns.firstIndex(of: $0) }
                    guard index.allSatisfy({ $0 != nil }) else { return nil }
                    return index.map { t.targets[r * t.columns.count + $0!] }
                }
                if json {
                    var rec: [String: Any] = ["path": path, "outputs": Dictionary(uniqueKeysWithValues: zip(columns, row.map(Double.init)))]
                    if let id { rec["GalaxyID"] = id }
                    if let e = explanation {
                        rec["explain"] = ["answer": columns[e.answer], "png": explain!, "shape": [3, 69, 69],
                                          "layout": "CHW, the network's normalized input (v/255 - mean) / std",
                                          "gradient": e.gradient.map(Double.init)] as [String: Any]
                    }
                    records.append(rec)
                    continue
                }
                print("\(path)" + (id.map { " (GalaxyID \($0))" } ?? ""))
                if let tree {
                    print(AnswerTable.render(prediction: row, truth: trueRow, tree: tree))
                } else {
                    for (c, v) in zip(columns, row) {
                        print("  \(c): " + String(format: "%.4f", v) + (trueRow.map { String(format: "  (true %.4f)", $0[columns.firstIndex(of: c)!]) } ?? ""))
                    }
                }
                print("")
            }
            if json {
                let data = try JSONSerialization.data(withJSONObject: records, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            }
        }
    }

    /// A Dirichlet checkpoint's answers: per answer the expected share of its question's volunteers with a 90%
    /// interval and the expected share of all volunteers (ConcentrationAnswers), beside the observed counts.
    func printConcentrations(_ outputs: [Float], columns: [String], meta: [String: String], truth: GalaxyLabels?) throws {
        guard let schema = try AnswerSchema(metadata: meta, file: checkpoint) else {
            throw ValidationError("\(checkpoint): a dirichlet checkpoint without its schema in the metadata")
        }
        if explain != nil { throw ValidationError("--explain: saliency maps of a dirichlet (concentration) head are not implemented yet") }
        let k = schema.answerCount
        var records: [[String: Any]] = []
        for (i, path) in images.enumerated() {
            let answers = ConcentrationAnswers(schema: schema, concentrations: outputs[i * k..<(i + 1) * k].map(Double.init))
            let id = Int64(URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
            let observed = truth.flatMap { t -> [Float]? in
                guard let id, let r = t.ids.firstIndex(of: id) else { return nil }
                let index = schema.columnNames.map { t.columns.firstIndex(of: $0) }
                guard index.allSatisfy({ $0 != nil }) else { return nil }
                return index.map { t.targets[r * t.columns.count + $0!] }
            }
            if json {
                func byColumn(_ v: [Double]) -> [String: Double] { Dictionary(uniqueKeysWithValues: zip(columns, v)) }
                var rec: [String: Any] = ["path": path, "outputs": byColumn(answers.expectedFraction), "concentrations": byColumn(answers.concentrations),
                                          "expected_share": byColumn(answers.expectedShare),
                                          "interval90": Dictionary(uniqueKeysWithValues: zip(columns, answers.interval.map { [$0.lowerBound, $0.upperBound] })),
                                          "schema": schema.name]
                if let id { rec["GalaxyID"] = id }
                if let observed { rec["observed_counts"] = Dictionary(uniqueKeysWithValues: zip(columns, observed.map { Int($0) })) }
                records.append(rec)
            } else {
                print("\(path)" + (id.map { " (GalaxyID \($0))" } ?? "") + " — schema \(schema.name)")
                print(answers.render(observed: observed))
                print("")
            }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: records, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
