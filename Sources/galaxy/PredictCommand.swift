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
    @Argument(help: "JPEG images (<GalaxyID>.jpg).") var images: [String]

    func run() throws {
        try reportingErrors {
            guard !images.isEmpty else { throw ValidationError("give at least one image") }
            let (weights, meta) = try ModelWeights.load(URL(fileURLWithPath: checkpoint))
            let columns = meta["columns"].map { $0.split(separator: ",").map(String.init) } ?? Self.defaultColumns(weights.outputs)
            guard columns.count == weights.outputs else {
                throw ValidationError("\(checkpoint): metadata names \(columns.count) columns for \(weights.outputs) outputs")
            }
            let truth = try labels.map { try GalaxyLabels.load(URL(fileURLWithPath: $0)) }
            var pixels = [UInt8]()
            for path in images { pixels += try preprocessGalaxyImage(contentsOf: URL(fileURLWithPath: path)) }
            let context = try VulkanContext(selector: device)
            let views = try ttaViews(tta)
            // Tiles by the work (lavapipe: up to one batch of views, the kernels quickest to create, 0.1 s against 10 s).
            let tiles = TileConfig.forWork(context.info, images: images.count * views.count)
            let outputs = try Predictor(context: context, weights: weights, maxBatch: min(images.count, 128),
                                        outputMode: try OutputMode(metadata: meta, file: checkpoint), tiles: tiles).predict(images: pixels, views: views)
            let k = weights.outputs
            var records: [[String: Any]] = []
            for (i, path) in images.enumerated() {
                let row = Array(outputs[i * k..<(i + 1) * k])
                let id = Int64(URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
                let trueRow = truth.flatMap { t -> [Float]? in
                    guard let id, let r = t.ids.firstIndex(of: id), t.columns == columns else { return nil }
                    return Array(t.targets[r * k..<(r + 1) * k])
                }
                if json {
                    var rec: [String: Any] = ["path": path, "outputs": Dictionary(uniqueKeysWithValues: zip(columns, row.map(Double.init)))]
                    if let id { rec["GalaxyID"] = id }
                    records.append(rec)
                    continue
                }
                print("\(path)" + (id.map { " (GalaxyID \($0))" } ?? ""))
                if k == GalaxyZooTree.answerCount && columns == GalaxyZooTree.columnNames {
                    print(AnswerTable.render(prediction: row, truth: trueRow))
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

    static func defaultColumns(_ k: Int) -> [String] {
        k == GalaxyZooTree.answerCount ? GalaxyZooTree.columnNames : (1...k).map { "output\($0)" }
    }
}
