import Foundation

/// An error in the data set's inputs; the message names the file and the line or GalaxyID.
public struct DataError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What a labels CSV holds: vote fractions in [0, 1] (Kaggle's), or vote counts (how many volunteers gave each
/// answer, as GZ2, GZ DECaLS and later catalogues publish them; an empty cell is 0 votes).
public enum LabelKind: String, Codable, Sendable {
    case fractions
    case counts

    /// Counts when some value is a whole number above 1 (no fraction is), else fractions: a counts CSV whose
    /// every galaxy had at most one volunteer reads as fractions, which is what its values are.
    public static func of<C: Collection>(_ values: C) -> LabelKind where C.Element: BinaryFloatingPoint {
        values.contains { $0 > 1 && $0.isFinite && $0 == $0.rounded() } ? .counts : .fractions
    }
}

/// The parsed labels CSV: `GalaxyID,<target 1>,...,<target k>`, one row per galaxy: vote fractions in [0,1], or
/// vote counts (whole numbers >= 0, empty cells 0).
public struct GalaxyLabels: Sendable {
    public var columns: [String]
    public var ids: [Int64]
    /// ids.count x columns.count, row-major.
    public var targets: [Float]
    public var count: Int { ids.count }
    public var kind: LabelKind = .fractions

    /// Parses and validates CSV text. `name` (the file path) goes into error messages.
    public static func parse(_ bytes: [UInt8], name: String) throws -> GalaxyLabels {
        var lines = splitLines(bytes)
        // A final newline leaves one empty line after the last row; ignore empty lines at the end only.
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let headerLine = lines.first else {
            throw DataError("\(name): the file is empty (expected a header line starting with GalaxyID)")
        }
        var header = headerLine
        if header.starts(with: [0xEF, 0xBB, 0xBF]) { header.removeFirst(3) }  // UTF-8 byte order mark
        let headerFields = splitFields(header).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces) }
        guard headerFields.first == "GalaxyID" else {
            throw DataError("\(name):1: the header's first column must be GalaxyID, found \"\(headerFields.first ?? "")\"")
        }
        let columns = Array(headerFields.dropFirst())
        guard !columns.isEmpty else {
            throw DataError("\(name):1: the header has no target columns after GalaxyID")
        }
        var seenColumns = Set<String>()
        for (i, column) in columns.enumerated() {
            guard !column.isEmpty else { throw DataError("\(name):1: target column \(i + 2) of the header has no name") }
            if let control = column.unicodeScalars.first(where: { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format && $0 != "\u{200D}" }) {
                let shown = column.unicodeScalars.map { $0 == control ? "\\u{\(String(control.value, radix: 16, uppercase: true))}" : String($0) }.joined()
                throw DataError("\(name):1: target column \(i + 2) of the header (\"\(shown)\") contains the control character U+"
                                + String(format: "%04X", control.value) + "; a column name may hold any printable text, but no control characters or line breaks")
            }
            guard seenColumns.insert(column).inserted else { throw DataError("\(name):1: column \"\(column)\" appears twice in the header") }
        }
        let k = columns.count
        var ids: [Int64] = []
        var targets: [Float] = []
        ids.reserveCapacity(lines.count - 1)
        targets.reserveCapacity((lines.count - 1) * k)
        var firstLine: [Int64: Int] = [:]
        firstLine.reserveCapacity(lines.count - 1)
        // Cells are read first (an empty one as NaN, which no cell's text gives: "nan" is refused at once), then
        // checked as fractions or counts once the whole file says which it holds.
        var values: [Double] = []
        values.reserveCapacity((lines.count - 1) * k)
        for lineIndex in 1..<lines.count {
            let lineNo = lineIndex + 1
            let fields = splitFields(lines[lineIndex])
            if fields.count == 1 && fields[0].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                throw DataError("\(name):\(lineNo): empty line inside the data")
            }
            guard fields.count == k + 1 else {
                throw DataError("\(name):\(lineNo): expected \(k + 1) fields (GalaxyID + \(k) targets), found \(fields.count)")
            }
            let idText = String(decoding: fields[0], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            guard let id = Int64(idText), id >= 0 else {
                throw DataError("\(name):\(lineNo): GalaxyID \"\(idText)\" is not a non-negative integer")
            }
            if let earlier = firstLine[id] {
                throw DataError("\(name):\(lineNo): duplicate GalaxyID \(id) (first on line \(earlier))")
            }
            firstLine[id] = lineNo
            ids.append(id)
            for c in 0..<k {
                let text = String(decoding: fields[c + 1], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                if text.isEmpty { values.append(.nan); continue }
                guard let value = Double(text) else {
                    throw DataError("\(name):\(lineNo): GalaxyID \(id), column \(columns[c]): \"\(text)\" is not a number")
                }
                guard !value.isNaN else {
                    throw DataError("\(name):\(lineNo): GalaxyID \(id), column \(columns[c]): value is NaN")
                }
                values.append(value)
            }
        }
        guard !ids.isEmpty else { throw DataError("\(name): no data rows after the header (empty data set)") }
        let kind = LabelKind.of(values)
        for (i, value) in values.enumerated() {
            let (row, c) = i.quotientAndRemainder(dividingBy: k)
            let place = "\(name):\(row + 2): GalaxyID \(ids[row]), column \(columns[c])"
            switch kind {
            case .fractions:
                guard !value.isNaN else { throw DataError("\(place): \"\" is not a number") }
                guard value >= 0, value <= 1 else { throw DataError("\(place): value \(Self.show(value)) is outside [0,1]") }
                targets.append(Float(value))
            case .counts:
                if value.isNaN { targets.append(0); continue }  // an empty cell: nobody gave that answer
                guard value >= 0 else { throw DataError("\(place): \(Self.show(value)) is not a vote count (negative); this file holds vote counts") }
                guard value.isFinite, value == value.rounded() else {
                    throw DataError("\(place): \(Self.show(value)) is not a vote count (not a whole number); this file holds vote counts")
                }
                guard value <= 16_777_216 else { throw DataError("\(place): \(Self.show(value)) votes is more than 2^24, the most a float32 holds exactly") }
                targets.append(Float(value))
            }
        }
        return GalaxyLabels(columns: columns, ids: ids, targets: targets, kind: kind)
    }

    /// A cell's value as the file most likely wrote it (whole numbers without ".0").
    private static func show(_ v: Double) -> String {
        v.isFinite && v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
    }

    /// Reads and parses the CSV file at `url`.
    public static func load(_ url: URL) throws -> GalaxyLabels {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DataError("\(url.path): labels CSV not found (give its path with --csv)")
        }
        return try parse(readFileBytes(url), name: url.path)
    }

    private static func splitLines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        for i in lines.indices where lines[i].last == 0x0D { lines[i] = lines[i].dropLast() }
        return lines
    }

    private static func splitFields(_ line: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        line.split(separator: 0x2C, omittingEmptySubsequences: false)
    }
}

/// Reads a whole file, with an error naming it.
func readFileBytes(_ url: URL) throws -> [UInt8] {
    do { return [UInt8](try Data(contentsOf: url)) } catch {
        throw DataError("\(url.path): cannot read: \(error.localizedDescription)")
    }
}

/// Where a labelled data set lives: the Kaggle layout under `dataDir` unless the CSV, the image
/// folder or the cache file are given separately.
public struct DataSource: Sendable {
    public var dataDir: URL
    public var csv: URL
    public var images: URL
    public var cache: URL
    /// The cache's path was given (`--cache`); otherwise it is DATA/galaxy-cache.bin, or a per-user cache
    /// folder when the data folder cannot be written (`resolvedCache`).
    public var cacheIsExplicit: Bool

    public static let defaultCSVName = "training_solutions_rev1.csv"
    public static let defaultImagesName = "images_training_rev1"
    public static let defaultTestImagesName = "images_test_rev1"
    public static let defaultCacheName = "galaxy-cache.bin"

    public init(dataDir: URL, csv: URL? = nil, images: URL? = nil, cache: URL? = nil) {
        self.dataDir = dataDir
        self.csv = csv ?? dataDir.appendingPathComponent(Self.defaultCSVName)
        self.images = images ?? dataDir.appendingPathComponent(Self.defaultImagesName)
        self.cache = cache ?? dataDir.appendingPathComponent(Self.defaultCacheName)
        self.cacheIsExplicit = cache != nil
    }

    /// Where the prepared cache is read and written: `cache`, unless it is the default and the data folder
    /// cannot be written (read-only), then `$XDG_CACHE_HOME/galaxy/<hash of the CSV's path>/galaxy-cache.bin`
    /// (`~/.cache` without XDG_CACHE_HOME). The note says so when it is the latter.
    public func resolvedCache() -> (url: URL, note: String?) {
        let folder = cache.deletingLastPathComponent()
        if cacheIsExplicit || access(folder.path, W_OK) == 0 || !FileManager.default.fileExists(atPath: folder.path) { return (cache, nil) }
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in csv.standardizedFileURL.path.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let url = base.appendingPathComponent("galaxy").appendingPathComponent(String(h, radix: 16)).appendingPathComponent(Self.defaultCacheName)
        return (url, "\(folder.path) cannot be written: the prepared cache is \(url.path) (--cache PATH puts it elsewhere)")
    }

    /// `images/<GalaxyID>.jpg`.
    public func imageURL(for id: Int64) -> URL {
        images.appendingPathComponent("\(id).jpg")
    }
}

/// A JPEG file of a galaxy in an unlabelled folder such as `images_test_rev1/`.
public struct GalaxyImageFile: Sendable, Equatable {
    public var id: Int64
    public var url: URL
}

/// Lists `<GalaxyID>.jpg` files of `folder`, sorted by GalaxyID. Other files are ignored;
/// a folder without any is an error.
public func listGalaxyImages(in folder: URL) throws -> [GalaxyImageFile] {
    let names: [String]
    do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
        throw DataError("\(folder.path): cannot list the image folder: \(error.localizedDescription)")
    }
    var files: [GalaxyImageFile] = []
    for name in names where name.lowercased().hasSuffix(".jpg") {
        guard let id = Int64(name.dropLast(4)) else { continue }
        files.append(GalaxyImageFile(id: id, url: folder.appendingPathComponent(name)))
    }
    guard !files.isEmpty else { throw DataError("\(folder.path): no <GalaxyID>.jpg files in the folder") }
    return files.sorted { $0.id < $1.id }
}
