import Foundation

/// A run directory of `galaxy train` and everything in it. One process trains in it at a time: `claim`
/// takes an advisory lock on `train.lock` that the process holds for its whole life (the kernel drops it
/// when the process dies). Every file is written here, each atomically: the resumable state (one file
/// that carries the weights, the momentum and the training state, so that no crash can leave a mismatched
/// pair), the checkpoints a user loads, metrics.csv and the loss plot.
public final class RunDirectory {
    public let url: URL
    private var lock: FileLock?
    /// This process made the directory (a run that cannot start removes it again).
    private let created: Bool

    public static let lastWeights = "last.safetensors"
    public static let lastState = "last.state.safetensors"
    public static let bestWeights = "best.safetensors"
    public static let metricsFile = "metrics.csv"
    public static let lossPlotFile = "loss.svg"
    public static let lockFile = "train.lock"
    /// Files that make a directory hold a run (and that `--overwrite` removes, with the rest of galaxy's own).
    static let runFiles = [lastState, lastWeights, bestWeights, metricsFile]
    static let ownFiles = runFiles + [lossPlotFile, RunData.fileName]

    public enum Claim: Sendable {
        /// A new run: the directory must hold none.
        case new
        /// The continuation of the run the directory holds.
        case resume
        /// A new run in place of the one the directory holds (its files are removed).
        case overwrite
    }

    /// A directory that this process writes without owning it (tests, and the ranks of an mpirun job
    /// other than rank 0, which never write).
    public init(unlocked url: URL) {
        self.url = url
        self.created = false
    }

    private init(url: URL, lock: FileLock, created: Bool) {
        self.url = url
        self.lock = lock
        self.created = created
    }

    /// Takes `url` for training: made if missing, locked for the life of the process, and checked against
    /// `claim` (`.overwrite` removes nothing yet: `discardRun` does, once the new run has started).
    public static func claim(_ url: URL, for claim: Claim) throws -> RunDirectory {
        var isDir: ObjCBool = false
        let existed = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir)
        if existed && !isDir.boolValue { throw RunDirectoryError.notADirectory(url.path) }
        if !existed && claim == .resume { throw RunDirectoryError.noRun(url.path) }
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw RunDirectoryError.cannotCreate(url.path, "\(error.localizedDescription)")
        }
        let lock: FileLock
        do {
            lock = try FileLock.acquire(url.appendingPathComponent(lockFile), purpose: "galaxy-train")
        } catch FileLock.Failure.held(let holder) {
            throw RunDirectoryError.busy(url.path, holder: holder.description)
        } catch FileLock.Failure.cannotOpen(let why) {
            if !existed { try? FileManager.default.removeItem(at: url) }
            throw RunDirectoryError.cannotCreate(url.path, why)
        }
        let dir = RunDirectory(url: url, lock: lock, created: !existed)
        dir.removeTemporaryFiles()
        switch claim {
        case .new:
            if let held = dir.summary() {
                dir.release()
                throw RunDirectoryError.holdsRun(url.path, held)
            }
        case .resume:
            guard FileManager.default.fileExists(atPath: dir.file(lastState).path) else {
                dir.release()
                throw RunDirectoryError.noRun(url.path)
            }
        case .overwrite:
            break
        }
        return dir
    }

    /// Removes the files of the run the directory holds (`--overwrite`) and returns their names. (The old
    /// run's TensorBoard event file is already gone: a new run's `Trainer` replaces it with its own.)
    public func discardRun() throws -> [String] {
        var removed: [String] = []
        for name in Self.ownFiles where FileManager.default.fileExists(atPath: file(name).path) {
            do { try FileManager.default.removeItem(at: file(name)) } catch {
                throw RunDirectoryError.cannotCreate(url.path, "cannot remove \(name): \(error.localizedDescription)")
            }
            removed.append(name)
        }
        return removed
    }

    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Gives the directory up; removes it when this process made it and nothing but the lock is in it
    /// (a run that could not start leaves no directory behind).
    public func abandon() {
        if created {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            if names.allSatisfy({ $0 == Self.lockFile }) { try? FileManager.default.removeItem(at: url) }
        }
        release()
    }

    public func release() {
        lock?.release()
        lock = nil
    }

    /// What a killed writer left: temporary files (never under a real name). Only the owner removes them.
    func removeTemporaryFiles() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        for name in names where name.hasPrefix(".") && name.contains(AtomicFile.temporaryMarker) {
            try? FileManager.default.removeItem(at: file(name))
        }
    }

    // MARK: What the directory holds

    /// One line on the run the directory holds (epochs done, best test RMSE), nil when it holds none.
    public func summary() -> String? {
        let present = Self.runFiles.filter { FileManager.default.fileExists(atPath: file($0).path) }
        guard !present.isEmpty else { return nil }
        guard let state = try? readState().state else {
            return "checkpoints or metrics (\(present.joined(separator: ", "))) without a readable training state"
        }
        var text = "\(state.epoch) of \(state.options.epochs) epochs done"
        if state.step > 0 { text += " and \(state.step) steps of epoch \(state.epoch + 1)" }
        if let best = state.bestTestRMSE { text += String(format: ", best test RMSE %.5f", best) }
        return text
    }

    // MARK: Writing

    /// The resumable state: weights, momentum and training state in one file (replaced atomically), then
    /// the weights alone as last.safetensors for users.
    func writeResumable(state: TrainingState, weights: [(name: String, tensor: Tensor)], weightsMetadata: [String: String],
                        optimizer: [(name: String, tensor: Tensor)]) throws {
        let json = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        let tensors = weights.map { ("weights.\($0.name)", $0.tensor) } + optimizer
        try SafeTensors.write(tensors, metadata: [Self.stateKey: json], to: file(Self.lastState))
        try SafeTensors.write(weights, metadata: weightsMetadata, to: file(Self.lastWeights))
    }

    func writeBest(_ weights: ModelWeights, metadata: [String: String]) throws {
        try weights.save(to: file(Self.bestWeights), metadata: metadata)
    }

    /// metrics.csv and the loss plot.
    func writeReports(metrics: [EpochMetrics]) throws {
        try AtomicFile.write(Data(EpochMetrics.csv(metrics).utf8), to: file(Self.metricsFile))
        let svg = LossPlot.svg(train: metrics.map(\.trainRMSE), test: metrics.map(\.testRMSE))
        try AtomicFile.write(Data(svg.utf8), to: file(Self.lossPlotFile))
    }

    public func writeDataRecord(_ source: DataSource) throws { try RunData.save(source, runDir: url) }

    // MARK: Reading

    static let stateKey = "galaxy.training_state"

    /// The training state and the tensors of last.state.safetensors.
    func readState() throws -> (state: TrainingState, tensors: [String: Tensor]) {
        let stateURL = file(Self.lastState)
        guard FileManager.default.fileExists(atPath: stateURL.path) else {
            throw TrainingError.invalid("\(stateURL.path) not found: \(url.path) holds no resumable run")
        }
        let (tensors, meta) = try SafeTensors.read(stateURL)
        guard let json = meta[Self.stateKey], let state = try? JSONDecoder().decode(TrainingState.self, from: Data(json.utf8)) else {
            throw TrainingError.invalid("\(stateURL.path): no readable training state")
        }
        return (state, tensors)
    }
}

public enum RunDirectoryError: Error, CustomStringConvertible {
    case busy(String, holder: String)
    case holdsRun(String, String)
    case noRun(String)
    case notADirectory(String)
    case cannotCreate(String, String)

    public var description: String {
        switch self {
        case .busy(let dir, let holder):
            return "\(dir) is in use by \(holder), which trains in it (lock \(dir)/\(RunDirectory.lockFile)): "
                + "one run directory has one training process; wait for it to end or give another --run directory"
        case .holdsRun(let dir, let held):
            return "\(dir) already holds a run (\(held)): continue it with `galaxy train --resume \(dir)`, "
                + "or train into a new directory with --run NEW (--overwrite discards the run in \(dir))"
        case .noRun(let dir):
            return "\(dir) holds no resumable run (no \(RunDirectory.lastState)): start one with `galaxy train --run \(dir) --data DIR`"
        case .notADirectory(let path):
            return "\(path) is a file, not a run directory"
        case .cannotCreate(let dir, let why):
            return "cannot use \(dir) as a run directory: \(why)"
        }
    }
}

extension EpochMetrics {
    /// metrics.csv: a header and one row per epoch.
    public static func csv(_ rows: [EpochMetrics]) -> String { MetricsTable.csv(rows) }
}
