import ArgumentParser
import Foundation
import GalaxyKit

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "RMSE of a checkpoint on the test split (or all) of a data set, per question, beside the constant-mean baseline.")

    @Option(help: "Weights (safetensors with PyTorch state_dict names).") var checkpoint: String
    @OptionGroup var dataOptions: DataOptions
    @Flag(help: "Evaluate on every galaxy of the data set instead of the test split.") var all = false
    @Option(help: "Seed of the train/test split.") var seed: UInt32 = 42
    @Option(help: "Test fraction of the split.") var testFraction = 0.2
    @Option(help: "Vulkan device index or name substring.") var device: String?
    @Option(help: "Test-time augmentation: average over this many views (1-8: rotations by 90 degrees, then the same flipped).") var tta = 1
    @Option(help: ArgumentHelp("Also show the answers of the N evaluated galaxies with the smallest GalaxyIDs beside their true ones, as predict does.",
                               valueName: "n")) var show = 0

    func run() throws {
        try reportingErrors {
            var data = try dataOptions.load()
            let (_, peek) = try SafeTensors.read(URL(fileURLWithPath: checkpoint))
            let schema = try AnswerSchema(metadata: peek, file: checkpoint)
            let dirichlet = try OutputMode(metadata: peek, file: checkpoint) == .dirichlet
            if dirichlet {
                guard schema != nil else { throw ValidationError("\(checkpoint): a dirichlet checkpoint without its schema in the metadata") }
            }
            // The checkpoint's columns in its schema's order (a run with a schema trained on them so).
            if let schema { data = try data.selecting(schema, file: try dataOptions.source().csv.path) }
            if dirichlet {
                guard LabelKind.of(data.targets) == .counts else { throw ValidationError("\(checkpoint) predicts vote counts, and the data holds vote fractions") }
            }
            let k = data.columns.count
            let (weights, meta) = try ModelWeights.load(URL(fileURLWithPath: checkpoint), expectedOutputs: k)
            let split = trainTestSplit(count: data.count, testFraction: testFraction, seed: seed)
            let rows = all ? Array(0..<data.count) : split.test
            guard !rows.isEmpty else { throw ValidationError("no galaxies to evaluate") }
            guard show >= 0 else { throw ValidationError("--show \(show): give a number of galaxies, 0 or more") }
            let context = try openDevice(device)
            let views = try ttaViews(tta)
            // The tree of the outputs (recorded, or the built-in one the columns are): per-question figures and the answer table.
            let tree = try AnswerSchema.implied(metadata: meta, outputs: k, file: checkpoint).flatMap { $0.columnNames == data.columns ? $0 : nil }
            let pred = try Predictor(context: context, weights: weights, outputMode: try OutputMode(metadata: meta, file: checkpoint), tree: tree,
                                     path: KernelPath.forWork(context.info, images: rows.count * views.count)).predict(images: Metrics.images(data, rows), views: views)
            if dirichlet, let schema {
                let fitRows = all ? rows : split.train
                let baseline = CountStatistics.constantConcentrations(counts: data.targets, width: k, rows: fitRows, questionStarts: schema.questionStarts)
                let position = Dictionary(uniqueKeysWithValues: rows.enumerated().map { ($1, $0) })
                let result = CountEvaluation.evaluate(schema: schema, counts: data.targets, rows: rows, baseline: baseline) { r in
                    let j = position[r]!
                    return pred[(j * k)..<((j + 1) * k)].map(Double.init)
                }
                print("\(all ? "all" : "test split") of \(data.count): \(rows.count) galaxies, schema \(schema.name) (\(schema.questions.count) questions, \(k) answers); "
                      + "baseline: constant concentrations fitted to the \(all ? "same" : "training") counts")
                print(result.render())
                return
            }
            let target = Metrics.rows(data.targets, width: k, rows)
            let means = Metrics.columnMeans(data.targets, width: k, rows: all ? rows : split.train)
            let baseline = rows.flatMap { _ in means }
            print("\(all ? "all" : "test split") of \(data.count): \(rows.count) galaxies, \(k) output(s)")
            print(String(format: "RMSE %.5f   constant-mean baseline %.5f", Metrics.rmse(pred, target), Metrics.rmse(baseline, target)))
            if let tree {
                let dead = tree.allZeroQuestions(pred), pairs = rows.count * tree.questionRanges.count
                print(String(format: "questions answered all zero: %d of %d (image, question) pairs (%.2f%%)", dead, pairs, 100 * Double(dead) / Double(pairs)))
                print("question   RMSE      baseline" + (tree == .kaggle ? "" : "   (schema \(tree.name))"))
                for (q, range) in tree.questionRanges.enumerated() {
                    print(String(format: "Q%-8d %.5f   %.5f", q + 1, Metrics.rmse(pred, target, width: k, columns: range),
                                 Metrics.rmse(baseline, target, width: k, columns: range)) + (tree == .kaggle ? "" : "   " + tree.questions[q].text))
                }
            }
            let images = try dataOptions.source().images
            for (n, i) in rows.indices.sorted(by: { data.ids[rows[$0]] < data.ids[rows[$1]] }).prefix(show).enumerated() {
                let (row, truth) = (Array(pred[i * k..<(i + 1) * k]), Array(target[i * k..<(i + 1) * k]))
                let id = data.ids[rows[i]]
                print("\n\(images.appendingPathComponent("\(id).jpg").path) (GalaxyID \(id)): of the galaxies evaluated, "
                      + (n == 0 ? "the one with the smallest GalaxyID" : "number \(n + 1) by GalaxyID"))
                if let tree {
                    print(AnswerTable.render(prediction: row, truth: truth, tree: tree))
                } else {
                    for (c, (p, t)) in zip(data.columns, zip(row, truth)) { print("  \(c): " + String(format: "%.4f  (true %.4f)", p, t)) }
                }
            }
        }
    }
}
