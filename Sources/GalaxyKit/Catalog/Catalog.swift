import Dispatch
import Foundation

/// How a catalogue is made (besides its input and checkpoint).
public struct CatalogOptions: Sendable {
    /// The CSV written at the end; `OUT.errors`, `OUT.parts/` and `OUT.lock` go beside it.
    public var out: URL
    /// Views averaged per image (`--tta`): `.none` alone, or the first N dihedral views.
    public var views: [AugmentMode] = [.none]
    public var decode: DecodeScale = .full
    /// Stop at the first image that does not decode instead of recording it in `OUT.errors`.
    public var strict = false
    /// Discard a finished `OUT` or a catalogue in progress in `OUT.parts/` instead of refusing or resuming.
    public var overwrite = false
    /// Images per chunk: decoded while the device infers the chunk before, then appended and flushed.
    public var chunk = 1024
    /// Decoding threads (default: every core).
    public var threads: Int?

    public init(out: URL) { self.out = out }
}

/// What a finished catalogue holds.
public struct CatalogSummary: Sendable {
    public var out: URL
    public var images: Int
    public var rows: Int
    public var skipped: Int { images - rows }
    /// The errors file, when an image was skipped.
    public var errors: URL?
    /// Images already done by an earlier, stopped run.
    public var resumed: Int
    /// This process's seconds waiting for decoded images, in the device's inference, and writing rows.
    public var decodeWaitSeconds: Double
    public var inferSeconds: Double
    public var writeSeconds: Double
}

public enum CatalogOutcome: Sendable {
    /// Rank 0's summary; the other ranks' is nil.
    case finished(CatalogSummary?)
    /// Stopped on request at a chunk boundary after `done` of `total` images; the same command resumes.
    case stopped(done: Int, total: Int)
}

/// The device failed while making a catalogue; what was written is kept.
public struct CatalogDeviceError: Error, CustomStringConvertible {
    public let failure: DeviceFailure
    public let message: String
    public var description: String { message }
}

/// What `catalog.json` records: a run resumes only what the same checkpoint, input and options began.
struct CatalogRecipe: Codable, Equatable {
    var format = 1
    var checkpoint: String
    var checkpointDigest: String
    var images: Int
    var inputDigest: String
    var firstPath: String
    var lastPath: String
    var idHeader: String
    var columns: [String]
    var tta: Int
    var decode: String

    /// What differs from `other` (the recorded recipe), in words; empty when they agree.
    func differences(from other: CatalogRecipe) -> [String] {
        var d: [String] = []
        if format != other.format { d.append("it was written by another version of galaxy (format \(other.format))") }
        if checkpointDigest != other.checkpointDigest {
            d.append("it was begun with another checkpoint (\(other.checkpoint), digest \(other.checkpointDigest); "
                     + "\(checkpoint) has digest \(checkpointDigest))")
        }
        if inputDigest != other.inputDigest || images != other.images || idHeader != other.idHeader {
            d.append("it was begun with another input list (\(other.images) images, \(other.firstPath) to \(other.lastPath); "
                     + "this one has \(images), \(firstPath) to \(lastPath)" + (images == other.images ? ", in another order or with other IDs" : "") + ")")
        }
        if columns != other.columns { d.append("its columns differ (\(other.columns.count) against \(columns.count))") }
        if tta != other.tta { d.append("it was begun with --tta \(other.tta), not \(tta)") }
        if decode != other.decode { d.append("it was begun with --decode \(other.decode), not \(decode)") }
        return d
    }
}

/// `galaxy catalog`: every image of a list through a checkpoint into one CSV row each, in input order,
/// resumable after any stop, shared by the ranks of an mpirun job.
///
/// Each rank takes a contiguous share of the images not yet written (`CatalogWork.share`) and appends its rows
/// chunk by chunk to parts in `OUT.parts/`; decoding a chunk (every core, `preprocessImageFiles`) overlaps the
/// device's inference of the chunk before. Rank 0 holds `OUT.lock` for the whole run, and at the end joins the
/// parts in order into `OUT` (and `OUT.errors`), each replaced atomically, then removes `OUT.parts/`.
/// The rows do not depend on how the images were cut into chunks, batches, ranks or runs: each image's outputs
/// are its own sums over the same kernels (chosen by the whole input's size), so a resumed or distributed
/// catalogue is byte-identical to one made in one go on the same kind of device.
public final class CatalogJob {
    public let input: CatalogInput
    public let columns: [String]
    /// A chunk's rows of the network's outputs -> its rows of `columns.count` values (nil: the outputs themselves).
    public let answers: (@Sendable ([Float]) -> [Float])?
    public let options: CatalogOptions
    let work: CatalogWork
    let recipe: CatalogRecipe
    let world: MPIWorld?
    var rank: Int { world?.rank ?? 0 }
    let progress: ProgressReporter?
    /// Skipped images noted on the progress output before the rest are only counted.
    static let notedSkips = 10

    /// `columns` and `answers` say what a row holds: the checkpoint's column names, and how its outputs become
    /// their values (an output head whose published answers are derived from the network's outputs maps them there).
    public init(input: CatalogInput, columns: [String], answers: (@Sendable ([Float]) -> [Float])? = nil, checkpoint: URL,
                options: CatalogOptions, world: MPIWorld?, progress: ProgressReporter?) throws {
        guard !input.entries.isEmpty else { throw DataError("no images to catalogue") }
        guard options.chunk >= 1 else { throw DataError("the chunk size must be at least 1 image") }
        self.input = input
        self.columns = columns
        self.answers = answers
        self.options = options
        self.world = world
        self.progress = progress
        work = CatalogWork(out: options.out)
        recipe = CatalogRecipe(checkpoint: checkpoint.path, checkpointDigest: String(checksum(try readFileBytes(checkpoint)), radix: 16),
                               images: input.count, inputDigest: input.digest, firstPath: input.entries.first!.path,
                               lastPath: input.entries.last!.path, idHeader: input.idHeader, columns: columns,
                               tta: options.views.count, decode: options.decode.rawValue)
    }

    /// Makes (or resumes) the catalogue. `openDevice` is called once this process has images to infer;
    /// `shouldStop` is asked after every chunk.
    /// `tree`: the checkpoint's schema, which a constrained output layer needs (AnswerSchema.implied).
    public func run(weights: ModelWeights, outputMode: OutputMode, tree: AnswerSchema? = nil, openDevice: () throws -> VulkanContext,
                    shouldStop: () -> Bool = { false }) throws -> CatalogOutcome {
        var lock: FileLock?
        if rank == 0 { lock = try takeLock(); try begin() }
        defer { lock?.release() }
        try world?.barrier()
        // Every rank checks that it sees what rank 0 recorded, and plans from the same parts.
        if rank != 0 { try checkRecipe() }
        let parts = try work.parts()
        let done = parts.reduce(0) { $0 + $1.images }
        let share = CatalogWork.share(of: try CatalogWork.gaps(parts, count: input.count), rank: rank, ranks: world?.size ?? 1)
        try world?.barrier()
        if rank == 0 && done > 0 { progress?.note("\(work.folder.path): resuming: \(done) of \(input.count) images were done") }

        var timing = (wait: 0.0, infer: 0.0, write: 0.0)
        let stopped = try write(share, parts: parts, weights: weights, outputMode: outputMode, tree: tree, openDevice: openDevice,
                                shouldStop: shouldStop, timing: &timing)
        if try agreeToStop(stopped) {
            let now = try work.parts().reduce(0) { $0 + $1.images }
            return .stopped(done: now, total: input.count)
        }
        guard rank == 0 else { return .finished(nil) }
        var summary = try join()
        summary.resumed = done
        (summary.decodeWaitSeconds, summary.inferSeconds, summary.writeSeconds) = timing
        return .finished(summary)
    }

    // MARK: - Setting up

    private func takeLock() throws -> FileLock {
        let folder = options.out.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw DataError("\(folder.path): cannot create the output's folder: \(error.localizedDescription)")
        }
        do {
            return try FileLock.acquire(work.lockFile, purpose: "galaxy-catalog")
        } catch FileLock.Failure.held(let holder) {
            throw DataError("\(options.out.path) is being written by \(holder) (lock \(work.lockFile.path)): wait for it to end, or give another --out")
        } catch FileLock.Failure.cannotOpen(let why) {
            throw DataError(why)
        }
    }

    /// Rank 0, holding the lock: a finished output is refused (or removed with `overwrite`); a catalogue in
    /// progress must be this one's (or is removed with `overwrite`); a new one gets its recipe.
    private func begin() throws {
        let fm = FileManager.default
        if options.overwrite {
            for url in [work.folder, options.out, work.errorsFile] where fm.fileExists(atPath: url.path) {
                do { try fm.removeItem(at: url) } catch {
                    throw DataError("\(url.path): cannot remove it (--overwrite): \(error.localizedDescription)")
                }
            }
        }
        if fm.fileExists(atPath: work.folder.path) {
            if fm.fileExists(atPath: work.recipeFile.path) { return try checkRecipe() }
            // A run killed between creating the folder and writing its recipe has written no part either.
            let names = (try? fm.contentsOfDirectory(atPath: work.folder.path)) ?? []
            guard names.allSatisfy({ $0.contains(AtomicFile.temporaryMarker) }) else {
                throw DataError("\(work.folder.path) holds files but no catalog.json: not a catalogue in progress that galaxy can resume; "
                                + "move it away, or give --overwrite to remove it")
            }
        } else if fm.fileExists(atPath: options.out.path) {
            throw DataError("\(options.out.path) exists (a finished catalogue, or another file): give --overwrite to replace it, or another --out")
        }
        do {
            try fm.createDirectory(at: work.folder, withIntermediateDirectories: true)
        } catch {
            throw DataError("\(work.folder.path): cannot create the catalogue's work folder: \(error.localizedDescription)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(recipe), to: work.recipeFile)
    }

    private func checkRecipe() throws {
        let recorded: CatalogRecipe
        do {
            recorded = try JSONDecoder().decode(CatalogRecipe.self, from: Data(contentsOf: work.recipeFile))
        } catch {
            throw DataError("\(work.recipeFile.path): cannot read the record of the catalogue in progress: \(error.localizedDescription)")
        }
        let differences = recipe.differences(from: recorded)
        guard differences.isEmpty else {
            throw DataError("\(work.folder.path) holds a catalogue in progress that this command cannot resume: "
                            + differences.joined(separator: "; ")
                            + ". Give the command that began it to resume it, --overwrite to start over, or another --out")
        }
    }

    // MARK: - Writing this rank's share

    /// Writes the rows of `share`, chunk by chunk; true when stopped on request before the end.
    private func write(_ share: [Range<Int>], parts: [CatalogWork.Part], weights: ModelWeights, outputMode: OutputMode, tree: AnswerSchema?,
                       openDevice: () throws -> VulkanContext, shouldStop: () -> Bool,
                       timing: inout (wait: Double, infer: Double, write: Double)) throws -> Bool {
        let chunks = share.flatMap { range in
            stride(from: range.lowerBound, to: range.upperBound, by: options.chunk).map { $0..<min($0 + options.chunk, range.upperBound) }
        }
        guard !chunks.isEmpty else { return false }
        progress?.reset(label: world.map { "catalog (rank \($0.rank) of \($0.size))" } ?? "catalog", total: chunks.reduce(0) { $0 + $1.count })
        defer { progress?.finish() }
        let context = try openDevice()
        let views = options.views
        let predictor: Predictor
        do {
            // The kernels are chosen by the whole input, so that every rank and every resumed run use the same.
            predictor = try Predictor(context: context, weights: weights, outputMode: outputMode, tree: tree,
                                      path: KernelPath.forWork(context.info, images: input.count * views.count))
        } catch {
            throw deviceError(error, doing: "while loading the network")
        }
        var writer: CatalogPartWriter?
        var skipsNoted = 0
        var next: Prefetch<PreprocessedImages>? = decode(chunks[0])
        for (c, chunk) in chunks.enumerated() {
            var t = Date()
            let decoded = next!.wait()
            timing.wait += Date().timeIntervalSince(t)
            next = c + 1 < chunks.count ? decode(chunks[c + 1]) : nil

            if options.strict, let bad = decoded.failures.first {
                throw DataError("\(bad.path): \(bad.reason) (--strict: stopped; the images before it are kept in "
                                + "\(work.folder.path): fix it and run the same command to go on, or leave out --strict to record it in \(work.errorsFile.path))")
            }
            t = Date()
            let failed = Set(decoded.failures.map(\.index))
            let good = (0..<chunk.count).filter { !failed.contains($0) }
            let n = GalaxyPreprocessing.imageBytes
            let pixels = failed.isEmpty ? decoded.images : good.flatMap { decoded.images[($0 * n)..<(($0 + 1) * n)] }
            var outputs: [Float]
            do { outputs = try predictor.predict(images: pixels, views: views) } catch {
                throw deviceError(error, doing: "while inferring images \(chunk.lowerBound + 1)-\(chunk.upperBound)")
            }
            timing.infer += Date().timeIntervalSince(t)
            if let answers { outputs = answers(outputs) }
            precondition(outputs.count == good.count * columns.count, "\(outputs.count) values for \(good.count) images of \(columns.count) columns")

            t = Date()
            let k = columns.count
            var rows: [UInt8] = []
            rows.reserveCapacity(good.count * (k * 9 + 16))
            for (r, i) in good.enumerated() {
                rows += Array(CSVField.escape(input.entries[chunk.lowerBound + i].id).utf8)
                for v in outputs[(r * k)..<((r + 1) * k)] {
                    rows.append(UInt8(ascii: ","))
                    FixedDecimal.append(v, to: &rows)
                }
                rows.append(0x0A)
            }
            var errors: [UInt8] = []
            for f in decoded.failures {
                let entry = input.entries[chunk.lowerBound + f.index]
                errors += Array(([entry.id, entry.path, f.reason].map(CSVField.escape).joined(separator: ",") + "\n").utf8)
                if skipsNoted < Self.notedSkips { progress?.note("skipped \(f.path): \(f.reason)") }
                if skipsNoted == Self.notedSkips { progress?.note("(further skipped images are only listed in \(work.errorsFile.path))") }
                skipsNoted += 1
            }
            if writer?.part.end != chunk.lowerBound {
                let continued = parts.first { $0.end == chunk.lowerBound } ?? CatalogWork.Part(start: chunk.lowerBound)
                writer = try CatalogPartWriter(work, continuing: continued)
                if writer!.cutBytes > 0 {
                    progress?.note("\(work.file(continued.start, "rows").path): cut \(writer!.cutBytes) bytes written after its last whole chunk "
                                   + "(a run killed while writing); they are written again")
                }
            }
            try writer!.commit(images: chunk.count, rowCount: good.count, rows: rows, errors: errors)
            timing.write += Date().timeIntervalSince(t)
            progress?.advance(by: chunk.count)
            if c + 1 < chunks.count && shouldStop() { return true }
        }
        return false
    }

    /// Decodes and crops a chunk's images on every core, on a thread of its own.
    private func decode(_ chunk: Range<Int>) -> Prefetch<PreprocessedImages> {
        let urls = chunk.map(input.url)
        let (threads, scale) = (options.threads, options.decode)
        return Prefetch { preprocessImageFiles(urls, threads: threads, decode: scale) }
    }

    private func deviceError(_ error: Error, doing what: String) -> Error {
        guard let failure = ExitStatus.deviceFailure(of: error) else { return error }
        let rankText = world.map { "rank \($0.rank) of \($0.size): " } ?? ""
        let done = (try? work.parts())?.reduce(0) { $0 + $1.images } ?? 0
        let kept = done == 0 ? "nothing was written yet (\(work.folder.path) holds only the record of the catalogue begun)"
            : "the rows of the \(done) of \(input.count) images done are kept in \(work.folder.path)"
        return CatalogDeviceError(failure: failure, message: "\(rankText)the device failed \(what): \(error); \(kept): "
                                  + "run the same command again to go on (on a healthy device, or another with --device)")
    }

    /// True on every rank when any rank stopped on request (a collective: every rank calls it once).
    private func agreeToStop(_ stopped: Bool) throws -> Bool {
        guard let world else { return stopped }
        return try world.sum([stopped ? 1.0 : 0.0])[0] > 0
    }

    // MARK: - Joining

    /// Rank 0, once every image has a part: the header and every part's rows in order into `OUT`, the errors
    /// into `OUT.errors` (removed when there are none), each replaced atomically; then the work folder goes.
    private func join() throws -> CatalogSummary {
        let parts = try work.parts()
        let gaps = try CatalogWork.gaps(parts, count: input.count)
        guard gaps.isEmpty else {
            throw DataError("\(work.folder.path): images \(gaps[0].lowerBound + 1)-\(gaps[0].upperBound) have no rows after every rank finished")
        }
        let rows = parts.reduce(0) { $0 + $1.rows }
        let skipped = input.count - rows
        let errorsHeader = [input.idHeader, "path", "error"].map(CSVField.escape).joined(separator: ",") + "\n"
        if skipped > 0 {
            try concatenate(header: errorsHeader, parts.map { (work.file($0.start, "errors"), $0.errorBytes) }, into: work.errorsFile)
        } else if FileManager.default.fileExists(atPath: work.errorsFile.path) {
            try FileManager.default.removeItem(at: work.errorsFile)
        }
        let header = ([input.idHeader] + columns).map(CSVField.escape).joined(separator: ",") + "\n"
        try concatenate(header: header, parts.map { (work.file($0.start, "rows"), $0.rowBytes) }, into: options.out)
        do { try FileManager.default.removeItem(at: work.folder) } catch {
            progress?.note("\(work.folder.path): cannot remove it (\(error.localizedDescription)); the catalogue is whole in \(options.out.path)")
        }
        return CatalogSummary(out: options.out, images: input.count, rows: rows, errors: skipped > 0 ? work.errorsFile : nil,
                              resumed: 0, decodeWaitSeconds: 0, inferSeconds: 0, writeSeconds: 0)
    }

    /// `header`, then the first `bytes` of each file, streamed into a temporary file renamed over `out`.
    private func concatenate(header: String, _ sources: [(URL, Int)], into out: URL) throws {
        try AtomicFile.write(to: out) { handle in
            try handle.write(contentsOf: Data(header.utf8))
            for (url, bytes) in sources where bytes > 0 {
                guard let source = FileHandle(forReadingAtPath: url.path) else { throw DataError("\(url.path): cannot open") }
                defer { try? source.close() }
                var left = bytes
                while left > 0 {
                    guard let data = try source.read(upToCount: min(left, 1 << 22)), !data.isEmpty else {
                        throw DataError("\(url.path): ended before its \(bytes) committed bytes")
                    }
                    try handle.write(contentsOf: data)
                    left -= data.count
                }
            }
        }
    }
}

/// A value computed on another thread, waited for once.
final class Prefetch<T>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var value: T?

    init(_ work: @escaping @Sendable () -> T) {
        DispatchQueue.global().async {
            self.value = work()
            self.done.signal()
        }
    }

    func wait() -> T {
        done.wait()
        return value!
    }
}

/// What `--decode half` changes, as measured (docs/performance.md, "Catalogues"); the help says it and the
/// tests hold the fast path to the bounds.
public enum CatalogFastPath {
    /// The half-size crops' mean absolute difference from the full-size ones, in grey levels, over the 240 Kaggle
    /// sample images: measured 0.35 (`DataPreprocessTests`).
    public static let pixelMeanBound = 0.5
    /// The RMSE between the answers of the two paths: measured 0.00039 on the demo model's test split
    /// (bench/catalog_half.sh), 0.00002 with the seed's initial weights on 24 Kaggle images (`CatalogTests`).
    public static let answerRMSEBound = 0.002
    public static let measured = "Measured on 424x424 JPEGs (docs/performance.md): decoding and cropping take 0.64x the "
        + "CPU time (1.55x the images per core); the answers move by an RMSE of 0.0004 on the test split of make demo's model, "
        + "whose own test RMSE is 0.1308 (0.1308 with --decode half too): under \(answerRMSEBound), which the tests hold it to."
}
