import Foundation

/// Where a run's data came from, kept as RUN/data.json so `galaxy train --resume RUN` finds it
/// again without being told (the split digest in the training state still checks that it is the
/// same data).
public enum RunData {
    public static let fileName = "data.json"

    struct Record: Codable {
        var dataDir: String
        var csv: String
        var images: String
        /// Only when it was given (`--cache`): otherwise found again as the first run found it.
        var cache: String?
    }

    /// Writes the record atomically, with absolute paths.
    public static func save(_ source: DataSource, runDir: URL) throws {
        let record = Record(dataDir: source.dataDir.absoluteURL.path, csv: source.csv.absoluteURL.path,
                            images: source.images.absoluteURL.path,
                            cache: source.cacheIsExplicit ? source.cache.absoluteURL.path : nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(record), to: runDir.appendingPathComponent(fileName))
    }

    /// The data source recorded in `runDir`, or an error naming the file and what to do instead.
    public static func load(runDir: URL) throws -> DataSource {
        let url = runDir.appendingPathComponent(fileName)
        guard let bytes = FileManager.default.contents(atPath: url.path) else {
            throw GalaxyError.message("\(url.path): missing (the run predates it or was not made by galaxy train): give the data with --data DIR")
        }
        do {
            let r = try JSONDecoder().decode(Record.self, from: bytes)
            return DataSource(dataDir: URL(fileURLWithPath: r.dataDir), csv: URL(fileURLWithPath: r.csv),
                              images: URL(fileURLWithPath: r.images), cache: r.cache.map { URL(fileURLWithPath: $0) })
        } catch {
            throw GalaxyError.message("\(url.path): not a galaxy data record (\(error)): give the data with --data DIR")
        }
    }
}
