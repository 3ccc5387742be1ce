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

    @Argument(help: "Data folder in the Kaggle layout.")
    var dataDir: String

    @Option(help: "Labels CSV (header GalaxyID,<targets...>). Default: DATA_DIR/training_solutions_rev1.csv.")
    var csv: String?

    @Option(help: "Folder of <GalaxyID>.jpg images. Default: DATA_DIR/images_training_rev1.")
    var images: String?

    @Option(help: "Cache file. Default: DATA_DIR/galaxy-cache.bin.")
    var cache: String?

    @Flag(help: "Fail on the first bad image instead of skipping it.")
    var strict = false

    func run() throws {
        try reportingErrors {
            let source = DataSource(dataDir: URL(fileURLWithPath: dataDir),
                                    csv: csv.map { URL(fileURLWithPath: $0) },
                                    images: images.map { URL(fileURLWithPath: $0) },
                                    cache: cache.map { URL(fileURLWithPath: $0) })
            let progress = ProgressReporter(label: "prepare", total: 0)
            let (dataset, report) = try GalaxyCache.loadOrPrepareWithReport(source, strict: strict, progress: progress)
            for skipped in report.skipped {
                progress.note("skipped \(skipped)")
            }
            let verb = report.rebuilt ? "wrote" : "up to date:"
            print("\(verb) \(report.cache.path): \(dataset.count) galaxies, \(dataset.columns.count) target column(s)"
                  + (report.skipped.isEmpty ? "" : ", \(report.skipped.count) image(s) skipped"))
        }
    }
}
