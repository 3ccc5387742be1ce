import ArgumentParser
import Foundation
import GalaxyKit

struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Decode, crop and resize every labelled image once into a cache file.",
        discussion: """
        Reads DATA_DIR/training_solutions_rev1.csv and DATA_DIR/images_training_rev1/<GalaxyID>.jpg \
        (or the paths given), and writes DATA_DIR/galaxy-cache.bin unless a current cache is already there. \
        A cache made from other inputs is rebuilt. Bad images are skipped and listed unless --strict.
        """
    )

    @Argument(help: "Data folder in the Kaggle layout (or give --data, or --csv and --images).")
    var dataDir: String?

    @OptionGroup var dataOptions: DataOptions

    func run() throws {
        try reportingErrors {
            var options = dataOptions
            if let dataDir { options.data = dataDir }
            let (dataset, report) = try options.loadWithReport()
            let verb = report.rebuilt ? "wrote" : "up to date:"
            print("\(verb) \(report.cache.path): \(dataset.count) galaxies, \(dataset.columns.count) target column(s)"
                  + (report.skipped.isEmpty ? "" : ", \(report.skipped.count) image(s) skipped"))
        }
    }
}
