import ArgumentParser
import Foundation
import GalaxyKit

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Predict every image of a folder and write a Kaggle submission CSV (sorted by GalaxyID).")

    @Option(help: "Weights (safetensors with PyTorch state_dict names).") var checkpoint: String
    @Option(help: "Folder of <GalaxyID>.jpg images, e.g. images_test_rev1.") var images: String
    @Option(help: "Output CSV.") var out = "submission.csv"
    @Flag(help: "Fail on a bad image instead of skipping it.") var strict = false
    @Option(help: "Vulkan device index or name substring.") var device: String?
    @Option(help: "Test-time augmentation: average over this many views (1-8: rotations by 90 degrees, then the same flipped).") var tta = 1

    func run() throws {
        try reportingErrors {
            let (weights, meta) = try ModelWeights.load(URL(fileURLWithPath: checkpoint))
            let columns = meta["columns"].map { $0.split(separator: ",").map(String.init) } ?? PredictCommand.defaultColumns(weights.outputs)
            let files = try listGalaxyImages(in: URL(fileURLWithPath: images)).sorted { $0.id < $1.id }
            guard !files.isEmpty else { throw ValidationError("\(images): no <GalaxyID>.jpg images") }
            let progress = ProgressReporter(label: "decode", total: files.count)
            let pre = preprocessImageFiles(files.map(\.url), progress: progress)
            progress.finish()
            if let first = pre.failures.first, strict { throw ValidationError("\(first)") }
            for f in pre.failures { log("skipped \(f)") }
            let failed = Set(pre.failures.map(\.index))
            let keep = files.indices.filter { !failed.contains($0) }
            let n = GalaxyDataset.imageBytes
            let pixels = keep.flatMap { pre.images[$0 * n..<($0 + 1) * n] }
            let context = try openDevice(device)
            let views = try ttaViews(tta)
            var outputs = try Predictor(context: context, weights: weights, outputMode: try OutputMode(metadata: meta, file: checkpoint),
                                        path: KernelPath.forWork(context.info, images: pixels.count / GalaxyDataset.imageBytes * views.count)).predict(images: pixels, views: views)
            let k = weights.outputs
            if try OutputMode(metadata: meta, file: checkpoint) == .dirichlet, let schema = try AnswerSchema(metadata: meta, file: checkpoint) {
                outputs = ConcentrationAnswers.expectedFractions(schema: schema, rows: outputs)  // the expected shares of all volunteers
            }
            var csv = "GalaxyID," + columns.joined(separator: ",") + "\n"
            for (r, i) in keep.enumerated() {
                csv += "\(files[i].id)," + outputs[r * k..<(r + 1) * k].map { String(format: "%.6f", $0) }.joined(separator: ",") + "\n"
            }
            try AtomicFile.write(Data(csv.utf8), to: URL(fileURLWithPath: out))
            print("wrote \(out): \(keep.count) galaxies" + (failed.isEmpty ? "" : ", \(failed.count) skipped"))
        }
    }
}
