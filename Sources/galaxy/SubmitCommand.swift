import ArgumentParser
import Foundation
import GalaxyKit

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Predict every image of a folder and write a Kaggle submission CSV (sorted by GalaxyID).",
        discussion: "`galaxy catalog` with the Kaggle layout: <GalaxyID>.jpg files, rows sorted by GalaxyID, the GalaxyID column, "
            + "an existing OUT replaced, a Dirichlet checkpoint's expected shares alone. Resumable like catalog: run the same command again after a stop.")

    @Option(help: "Weights (safetensors with PyTorch state_dict names).") var checkpoint: String
    @Option(help: "Folder of <GalaxyID>.jpg images, e.g. images_test_rev1.") var images: String
    @Option(help: "Output CSV.") var out = "submission.csv"
    @Flag(help: "Fail on a bad image instead of skipping it.") var strict = false
    @Option(help: "Vulkan device index or name substring.") var device: String?
    @Option(help: "Test-time augmentation: average over this many views (1-8: rotations by 90 degrees, then the same flipped).") var tta = 1

    func run() throws {
        try reportingErrors {
            Interrupt.install()
            let folder = URL(fileURLWithPath: images)
            let input = CatalogInput(entries: try listGalaxyImages(in: folder).map { CatalogEntry(id: String($0.id), path: $0.url.lastPathComponent) },
                                     idHeader: "GalaxyID", root: folder)
            var options = CatalogOptions(out: URL(fileURLWithPath: out))
            (options.views, options.strict) = (try ttaViews(tta), strict)
            // A finished submission is replaced, as it always was; a stopped one is resumed.
            options.overwrite = FileManager.default.fileExists(atPath: out) && !FileManager.default.fileExists(atPath: out + ".parts")
            guard case .finished(let summary?) = try CatalogCommand.make(input, checkpoint: checkpoint, options: options, device: device, world: nil,
                                                                          concentrations: false) else { return }
            print("wrote \(out): \(summary.rows) galaxies" + (summary.skipped == 0 ? "" : ", \(summary.skipped) skipped (listed in \(summary.errors!.path))"))
        }
    }
}
