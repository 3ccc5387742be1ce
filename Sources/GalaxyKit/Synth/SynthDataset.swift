import Dispatch
import Foundation

/// Writes a synthetic data set in the Kaggle Galaxy Zoo layout:
///
/// ```
/// DIR/images_training_rev1/<GalaxyID>.jpg   424x424 RGB JPEG
/// DIR/training_solutions_rev1.csv           GalaxyID,Class1.1,...,Class11.6 (sorted by GalaxyID)
/// DIR/images_test_rev1/<GalaxyID>.jpg       optional, unlabelled
/// DIR/SYNTH_INFO.txt                        what made it (marks the directory as synth output)
/// DIR/synth_latents.csv                     the hidden morphology of each galaxy (not a Kaggle file)
/// ```
///
/// Every galaxy is a function of (seed, GalaxyID) alone: its latents, votes and pixels come from
/// separate random streams keyed by both, so the output is byte-identical for the same seed
/// whatever the thread count, and the galaxies can be rendered in parallel.
public enum GalaxySynth {
    public static let trainingDirectory = "images_training_rev1"
    public static let testDirectory = "images_test_rev1"
    public static let solutionsFile = "training_solutions_rev1.csv"
    public static let markerFile = "SYNTH_INFO.txt"
    /// The hidden latents of every galaxy, for analysing what a model gets wrong.
    public static let latentsFile = "synth_latents.csv"
    /// Kaggle-style IDs are six-digit numbers.
    public static let idRange = 100_000...999_999
    /// Simulated volunteers per galaxy (Galaxy Zoo 2 had a few dozen classifications per galaxy).
    public static let volunteerRange = 30...60

    enum Stream: UInt64 { case ids = 1, latents, votes, pixels }

    public struct Options: Sendable {
        public var count: Int
        public var testCount: Int
        public var seed: UInt64
        public var quality: Int
        /// Write vote counts in this schema (kaggle or decals-dr5/-dr8) instead of Kaggle's fractions.
        public var counts: AnswerSchema?
        public init(count: Int, testCount: Int = 0, seed: UInt64 = 1, quality: Int = 90, counts: AnswerSchema? = nil) {
            self.counts = counts
            self.count = count; self.testCount = testCount; self.seed = seed; self.quality = quality
        }
    }

    public struct Summary: Sendable {
        public var directory: URL
        public var trainingIDs: [Int]
        public var testIDs: [Int]
        public var bytesWritten: Int
        public var seconds: Double
    }

    /// `count + testCount` unique six-digit IDs, split at random into training and test IDs, each sorted.
    public static func galaxyIDs(seed: UInt64, count: Int, testCount: Int) throws -> (training: [Int], test: [Int]) {
        let total = count + testCount
        guard count >= 0, testCount >= 0 else { throw GalaxyError.message("synth: counts must not be negative") }
        // Rejection sampling stays fast while the IDs fill under half of the range.
        guard total <= idRange.count / 2 else {
            throw GalaxyError.message("synth: at most \(idRange.count / 2) galaxies in all (asked for \(total))")
        }
        var rng = SynthRNG(seed: seed, stream: Stream.ids.rawValue)
        var seen = Set<Int>(minimumCapacity: total)
        var ids: [Int] = []
        ids.reserveCapacity(total)
        while ids.count < total {
            let id = idRange.lowerBound + Int(rng.next() % UInt64(idRange.count))
            if seen.insert(id).inserted { ids.append(id) }
        }
        // `ids` is in draw order, already random: the first `count` are the training set.
        return (Array(ids[..<count]).sorted(), Array(ids[count...]).sorted())
    }

    public static func latents(seed: UInt64, galaxyID: Int) -> GalaxyLatents {
        var rng = SynthRNG(seed: seed, key: UInt64(galaxyID), stream: Stream.latents.rawValue)
        return GalaxyLatents.sample(&rng)
    }

    /// The 37 vote fractions of a galaxy with these latents.
    public static func votes(seed: UInt64, galaxyID: Int, latents: GalaxyLatents) -> [Float] {
        var rng = SynthRNG(seed: seed, key: UInt64(galaxyID), stream: Stream.votes.rawValue)
        let volunteers = rng.int(volunteerRange.lowerBound, volunteerRange.upperBound)
        return VoteModel(latents).sampleVotes(volunteers: volunteers, rng: &rng)
    }

    /// How many volunteers classified a galaxy of a counts data set: as in GZ DECaLS, most galaxies 5, about one
    /// in five 30 to 60 (those DECaLS retired later or showed again).
    public static func countVolunteers(rng: inout SynthRNG) -> Int {
        rng.chance(0.8) ? 5 : rng.int(30, 60)
    }

    /// A galaxy's vote counts in `schema`'s columns (kaggle, or a GZ DECaLS tree).
    public static func counts(seed: UInt64, galaxyID: Int, latents: GalaxyLatents, schema: AnswerSchema) -> [Int] {
        var rng = SynthRNG(seed: seed, key: UInt64(galaxyID), stream: Stream.votes.rawValue)
        let volunteers = countVolunteers(rng: &rng)
        let model = VoteModel(latents)
        return schema == .kaggle ? model.sampleCounts(volunteers: volunteers, rng: &rng) : model.sampleDecalsCounts(volunteers: volunteers, rng: &rng)
    }

    /// The counts CSV text: GalaxyID then `schema`'s columns, whole numbers.
    public static func countsCSV(ids: [Int], counts: [Float], schema: AnswerSchema) -> String {
        let k = schema.answerCount
        precondition(counts.count == ids.count * k)
        var lines = ["GalaxyID," + schema.columnNames.joined(separator: ",")]
        for (row, id) in ids.enumerated() {
            lines.append(([String(id)] + counts[(row * k)..<((row + 1) * k)].map { String(Int($0)) }).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func image(seed: UInt64, galaxyID: Int, latents: GalaxyLatents) -> RGBImage {
        var rng = SynthRNG(seed: seed, key: UInt64(galaxyID), stream: Stream.pixels.rawValue)
        return GalaxyRenderer.render(latents, rng: &rng)
    }

    /// A vote fraction in [0, 1] with six decimals, as C's "%.6f" prints it.
    public static func formatFraction(_ v: Float) -> String {
        let micro = Int((Double(min(1, max(0, v))) * 1_000_000).rounded())
        let frac = String(micro % 1_000_000)
        return "\(micro / 1_000_000)." + String(repeating: "0", count: 6 - frac.count) + frac
    }

    /// The solutions CSV text; `votes` holds 37 values per ID, in the order of `ids` (sorted).
    public static func solutionsCSV(ids: [Int], votes: [Float]) -> String {
        precondition(votes.count == ids.count * GalaxyZooTree.answerCount)
        var lines = ["GalaxyID," + GalaxyZooTree.columnNames.joined(separator: ",")]
        lines.reserveCapacity(ids.count + 1)
        for (row, id) in ids.enumerated() {
            let base = row * GalaxyZooTree.answerCount
            var line = String(id)
            for c in 0..<GalaxyZooTree.answerCount { line += "," + formatFraction(votes[base + c]) }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One CSV row per galaxy with its latents (`split` is train or test), sorted by GalaxyID.
    public static func latentsCSV(seed: UInt64, trainingIDs: [Int], testIDs: [Int]) -> String {
        var rows = ["GalaxyID,split,kind,artifact,extent,axis_ratio,edge_on,bar_strength,arms,winding,arm_strength,"
                    + "bulge,bulge_shape,oddity,odd_strength,clarity"]
        let all = (trainingIDs.map { ($0, "train") } + testIDs.map { ($0, "test") }).sorted { $0.0 < $1.0 }
        func f(_ x: Float) -> String { String(format: "%.3f", x) }
        for (id, split) in all {
            let g = latents(seed: seed, galaxyID: id)
            let fields: [String] = [
                String(id), split, "\(g.kind)", g.isArtifact ? "1" : "0", f(g.extent), f(g.axisRatio), g.isEdgeOn ? "1" : "0",
                f(g.barStrength), String(g.armCount), g.armCount > 0 ? "\(g.winding)" : "", f(g.armStrength),
                "\(g.bulge)", "\(g.bulgeShape)", g.oddity.map { "\($0)" } ?? "", f(g.oddStrength), f(g.clarity),
            ]
            rows.append(fields.joined(separator: ","))
        }
        return rows.joined(separator: "\n") + "\n"
    }

    /// Checks that `dir` is absent, empty or an earlier synth output, and clears what an earlier
    /// synth run wrote there (its files only).
    static func prepareDirectory(_ dir: URL) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: dir.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw GalaxyError.message("synth: \(dir.path) exists and is not a directory") }
            let entries = try fm.contentsOfDirectory(atPath: dir.path)
            if !entries.isEmpty {
                guard entries.contains(markerFile) else {
                    throw GalaxyError.message(
                        "synth: refusing to write into \(dir.path): it is not empty and has no \(markerFile) from an earlier "
                        + "galaxy synth run; choose a new or empty directory")
                }
                for name in [trainingDirectory, testDirectory, solutionsFile, solutionsFile + ".tmp", latentsFile, latentsFile + ".tmp"]
                where entries.contains(name) {
                    try fm.removeItem(at: dir.appendingPathComponent(name))
                }
            }
        }
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    /// Writes `text` to `url` through a temporary file and a rename, so readers never see half a file.
    static func writeAtomically(_ text: String, to url: URL) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent(url.lastPathComponent + ".tmp")
        try Data(text.utf8).write(to: tmp)
        guard rename(tmp.path, url.path) == 0 else {
            throw GalaxyError.message("synth: cannot rename \(tmp.path) to \(url.path): errno \(errno)")
        }
    }

    /// Generates the whole data set into `dir`.
    public static func write(to dir: URL, options: Options) throws -> Summary {
        guard options.count >= 1 else { throw GalaxyError.message("synth: --count must be at least 1") }
        guard (1...100).contains(options.quality) else { throw GalaxyError.message("synth: --quality must be in 1...100") }
        if let schema = options.counts, schema != .kaggle, schema.columnNames != AnswerSchema.decalsDR5.columnNames {
            throw GalaxyError.message("synth: --counts simulates the kaggle and decals-dr5/-dr8 trees, not \"\(schema.name)\"")
        }
        let start = Date()
        let (trainIDs, testIDs) = try galaxyIDs(seed: options.seed, count: options.count, testCount: options.testCount)
        try prepareDirectory(dir)
        let info = """
            galaxy synth output (synthetic Galaxy Zoo data; files here are replaced by the next synth run)
            seed: \(options.seed)
            count: \(options.count)
            test-count: \(options.testCount)
            quality: \(options.quality)

            """ + (options.counts.map { "labels: vote counts, schema \($0.name)\n" } ?? "")
        try writeAtomically(info, to: dir.appendingPathComponent(markerFile))
        let trainDir = dir.appendingPathComponent(trainingDirectory)
        let testDir = dir.appendingPathComponent(testDirectory)
        try FileManager.default.createDirectory(at: trainDir, withIntermediateDirectories: true)
        if !testIDs.isEmpty { try FileManager.default.createDirectory(at: testDir, withIntermediateDirectories: true) }

        let k = options.counts?.answerCount ?? GalaxyZooTree.answerCount
        let voteTable = UnsafeMutableBufferPointer<Float>.allocate(capacity: trainIDs.count * k)
        voteTable.initialize(repeating: 0)
        defer { voteTable.deallocate() }
        let lock = NSLock()
        var firstError: Error?
        var bytes = 0
        let seed = options.seed, quality = options.quality
        let total = trainIDs.count + testIDs.count
        DispatchQueue.concurrentPerform(iterations: total) { i in
            let isTraining = i < trainIDs.count
            let id = isTraining ? trainIDs[i] : testIDs[i - trainIDs.count]
            let g = latents(seed: seed, galaxyID: id)
            if isTraining {
                if let schema = options.counts {
                    let v = counts(seed: seed, galaxyID: id, latents: g, schema: schema)
                    for c in 0..<k { voteTable[i * k + c] = Float(v[c]) }
                } else {
                    let v = votes(seed: seed, galaxyID: id, latents: g)
                    for c in 0..<k { voteTable[i * k + c] = v[c] }
                }
            }
            do {
                let jpeg = try JPEG.encode(image(seed: seed, galaxyID: id, latents: g), quality: quality)
                let url = (isTraining ? trainDir : testDir).appendingPathComponent("\(id).jpg")
                try Data(jpeg).write(to: url)
                lock.lock(); bytes += jpeg.count; lock.unlock()
            } catch {
                lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
            }
        }
        if let firstError { throw firstError }
        let csv = options.counts.map { countsCSV(ids: trainIDs, counts: Array(voteTable), schema: $0) } ?? solutionsCSV(ids: trainIDs, votes: Array(voteTable))
        try writeAtomically(csv, to: dir.appendingPathComponent(solutionsFile))
        try writeAtomically(latentsCSV(seed: seed, trainingIDs: trainIDs, testIDs: testIDs),
                            to: dir.appendingPathComponent(latentsFile))
        return Summary(directory: dir, trainingIDs: trainIDs, testIDs: testIDs, bytesWritten: bytes + csv.utf8.count,
                       seconds: Date().timeIntervalSince(start))
    }
}
