import ArgumentParser
import Foundation
import GalaxyKit

/// Where the labelled data is: a Kaggle-layout folder, with optional overrides.
struct DataOptions: ParsableArguments {
    @Option(help: "Data folder in the Kaggle layout (training_solutions_rev1.csv, images_training_rev1/).")
    var data: String?
    @Option(help: "Labels CSV. Default: DATA/training_solutions_rev1.csv.")
    var csv: String?
    @Option(help: "Folder of <GalaxyID>.jpg images. Default: DATA/images_training_rev1.")
    var images: String?
    @Option(help: "Preprocessed cache file. Default: DATA/galaxy-cache.bin.")
    var cache: String?
    @Flag(help: "Fail on a bad image instead of skipping it.")
    var strict = false

    var isGiven: Bool { data != nil || csv != nil }

    func source() throws -> DataSource {
        guard let dir = data ?? csv.map({ URL(fileURLWithPath: $0).deletingLastPathComponent().path }) else {
            throw ValidationError("give the data with --data DIR (or --csv FILE --images DIR)")
        }
        return DataSource(dataDir: URL(fileURLWithPath: dir), csv: csv.map { URL(fileURLWithPath: $0) },
                          images: images.map { URL(fileURLWithPath: $0) }, cache: cache.map { URL(fileURLWithPath: $0) })
    }

    /// The cached data set, prepared first if the cache is missing or stale; skipped images are listed.
    func loadWithReport(_ given: DataSource? = nil) throws -> (GalaxyDataset, PrepareReport) {
        let progress = ProgressReporter(label: "prepare", total: 0)
        let (dataset, report) = try GalaxyCache.loadOrPrepareWithReport(try given ?? source(), strict: strict, progress: progress)
        for s in report.skipped { progress.note("skipped \(s)") }
        return (dataset, report)
    }

    func load(_ given: DataSource? = nil) throws -> GalaxyDataset {
        let (dataset, report) = try loadWithReport(given)
        if report.rebuilt { log("prepared \(report.cache.path): \(dataset.count) galaxies") }
        return dataset
    }
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}

/// The device named by `selector`, else the best one; rank `world.localRank` of an mpirun job takes the
/// (localRank mod count)-th of the best type's devices on its host.
func openDevice(_ selector: String?, world: MPIWorld? = nil) throws -> VulkanContext {
    let context = try VulkanContext(selector: selector, slot: world?.localRank)
    if let world {
        log("rank \(world.rank) of \(world.size): device \(context.info.index) \(context.info.name) (\(context.info.type))")
    } else {
        log("device: \(context.info.name) (\(context.info.type))")
    }
    return context
}

/// Ctrl-C (SIGINT), SIGTERM and SIGUSR1 during training: the first asks the trainer to stop after the
/// current step with the resumable state written; a second exits at once (128 + the signal) without
/// touching a file.
enum Interrupt {
    /// The first signal received, 0 before any.
    nonisolated(unsafe) static var requested: sig_atomic_t = 0
    static func install() {
        for sig in [SIGINT, SIGTERM, SIGUSR1] {
            signal(sig) { received in
                if Interrupt.requested != 0 { _exit(128 + received) }  // a second signal does not wait
                Interrupt.requested = received
            }
        }
    }
    /// The exit code of a run stopped by the signal received: Ctrl-C's 130, a scheduler's 75.
    static var exitCode: Int32 { requested == SIGINT ? ExitStatus.interrupted : ExitStatus.preempted }
}

/// The views averaged by `--tta N`: the first N of the 8 dihedral views (identity first).
func ttaViews(_ n: Int) throws -> [AugmentMode] {
    guard (1...8).contains(n) else { throw ValidationError("--tta must be between 1 and 8") }
    return n == 1 ? [.none] : (0..<n).map { .view($0) }
}

extension Optimizer: ExpressibleByArgument {
    public static var allValueDescriptions: [String: String] {
        ["sgd": "torch.optim.SGD with --momentum (the seed's; lr 0.1 by default)", "adam": "torch.optim.Adam (lr 0.001 by default)"]
    }
}

extension OutputMode: ExpressibleByArgument {
    public static var allValueStrings: [String] { allCases.map(\.argument) }
    public var defaultValueDescription: String { argument }
    /// Keyed by the argument (ArgumentParser's default keys by raw value, and `constrained` is another case's raw value).
    public static var allValueDescriptions: [String: String] {
        [OutputMode.relu.argument: "the seed's ReLU on every output",
         OutputMode.constrained.argument: "Dieleman's decision-tree normalization of softplus outputs, which cannot die",
         OutputMode.constrainedReLU.argument: "the same of max(z, 0), whose questions can die (galaxy before 2026-11)"]
    }
}
