import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One image of a catalogue: its ID (the output's first column) and where it is. Two strings and no URL: a
/// survey's list holds millions.
public struct CatalogEntry: Sendable, Equatable {
    public var id: String
    /// The path as the input gave it: a list's text, or the path below the input's root folder.
    public var path: String

    public init(id: String, path: String) {
        (self.id, self.path) = (id, path)
    }
}

/// The images of a catalogue, in output order.
public struct CatalogInput: Sendable {
    public var entries: [CatalogEntry]
    /// The header of the output's ID column: the list's ID column, else `id`.
    public var idHeader: String
    /// The folder the entries' paths are below; nil when they are paths of their own (a list's, relative ones
    /// taken from the current folder).
    public var root: URL?
    public var count: Int { entries.count }

    public init(entries: [CatalogEntry], idHeader: String, root: URL? = nil) {
        (self.entries, self.idHeader, self.root) = (entries, idHeader, root)
    }

    /// Where image `i` is.
    public func url(_ i: Int) -> URL {
        root.map { $0.appendingPathComponent(entries[i].path) } ?? URL(fileURLWithPath: entries[i].path)
    }

    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]
    /// A list's path column: the first of these its header has (`file_loc` is Zoobot's catalogue column).
    public static let pathColumns = ["path", "file_loc"]
    /// A list's ID column when none is named: the first of these its header has (`id_str` is Zoobot's).
    public static let idColumns = ["id", "id_str", "GalaxyID"]

    /// Every `.jpg`, `.jpeg` and `.png` file below `folder` at any depth (case-insensitive; names starting with
    /// a dot skipped, symbolic links to folders not followed), sorted by the path below `folder` byte by byte
    /// (the order of `LC_ALL=C sort`); each ID is the file name without its extension.
    public static func folder(_ folder: URL) throws -> CatalogInput {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw DataError("\(folder.path): no such folder")
        }
        var paths: [String] = []
        var pending = [""]
        while let relative = pending.popLast() {
            let dir = relative.isEmpty ? folder.path : folder.path + "/" + relative
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
                throw DataError("\(dir): cannot list the folder: \(error.localizedDescription)")
            }
            for name in names where !name.hasPrefix(".") {
                let path = relative.isEmpty ? name : relative + "/" + name
                let ext = (name as NSString).pathExtension.lowercased()
                if imageExtensions.contains(ext) {
                    paths.append(path)
                    continue
                }
                var st = stat()
                if lstat(folder.path + "/" + path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { pending.append(path) }
            }
        }
        guard !paths.isEmpty else { throw DataError("\(folder.path): no .jpg, .jpeg or .png files in the folder or below it") }
        paths.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return CatalogInput(entries: paths.map { CatalogEntry(id: stem($0), path: $0) }, idHeader: "id", root: folder)
    }

    /// The images of `list`: a text file of one path per line, or a CSV whose header has a path column
    /// (`pathColumns`) and, optionally, an ID column (`idColumn`, else the first of `idColumns` present; without
    /// one each ID is the file name without its extension). Relative paths are taken from the current folder;
    /// blank lines are skipped; the order is the list's.
    public static func list(_ list: URL, idColumn: String? = nil) throws -> CatalogInput {
        let bytes = try readFileBytes(list)
        var lines: [(number: Int, text: Substring)] = []
        let text = String(decoding: bytes, as: UTF8.self)
        // "\r\n" is one Character, a line break like "\n".
        for (i, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            if !line.allSatisfy(\.isWhitespace) { lines.append((i + 1, line)) }
        }
        guard let first = lines.first else { throw DataError("\(list.path): no image paths in the list") }
        let header = try CSVField.split(first.text, file: list.path, line: first.number)
        let names = header.map { $0.trimmingCharacters(in: .whitespaces) }
        guard let pathColumn = pathColumns.lazy.compactMap({ names.firstIndex(of: $0) }).first else {
            if names.count > 1, let named = (idColumn.map { [$0] } ?? idColumns).first(where: names.contains) {
                throw DataError("\(list.path): the header names an ID column (\(named)) but no path column: name it "
                                + pathColumns.joined(separator: " or "))
            }
            if let idColumn {
                throw DataError("\(list.path): --id-column \(idColumn) needs a CSV list whose header names a path column "
                                + "(\(pathColumns.joined(separator: " or "))), e.g. path,\(idColumn); this one is a plain list of paths")
            }
            let entries = lines.map { line -> CatalogEntry in
                let path = String(line.text)
                return CatalogEntry(id: stem(path), path: path)
            }
            return CatalogInput(entries: entries, idHeader: "id")
        }
        let idIndex: Int?
        if let idColumn {
            guard let i = names.firstIndex(of: idColumn) else {
                throw DataError("\(list.path): the header has no column \(idColumn) (it has \(names.joined(separator: ", ")))")
            }
            idIndex = i
        } else {
            idIndex = idColumns.lazy.compactMap { names.firstIndex(of: $0) }.first
        }
        var entries: [CatalogEntry] = []
        entries.reserveCapacity(lines.count - 1)
        for line in lines.dropFirst() {
            let fields = try CSVField.split(line.text, file: list.path, line: line.number)
            guard fields.count == names.count else {
                throw DataError("\(list.path):\(line.number): \(fields.count) field(s) where the header has \(names.count)")
            }
            let path = fields[pathColumn]
            guard !path.isEmpty else { throw DataError("\(list.path):\(line.number): the \(names[pathColumn]) field is empty") }
            let id = idIndex.map { fields[$0] } ?? stem(path)
            entries.append(CatalogEntry(id: id, path: path))
        }
        guard !entries.isEmpty else { throw DataError("\(list.path): no image paths in the list (only its header)") }
        return CatalogInput(entries: entries, idHeader: idIndex.map { names[$0] } ?? "id")
    }

    /// The file name without its extension.
    static func stem(_ path: String) -> String {
        URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }

    /// A digest of the IDs and paths in order: what a resumed catalogue's input must match.
    public var digest: String {
        var bytes: [UInt8] = Array(idHeader.utf8) + [0]
        for e in entries { bytes += Array(e.id.utf8) + [0] + Array(e.path.utf8) + [0x0A] }
        return String(checksum(bytes), radix: 16)
    }
}

/// RFC 4180 fields: a field that holds a comma, a double quote or a line break is quoted, its quotes doubled.
enum CSVField {
    static func escape(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The fields of one line (a quoted field may not span lines).
    static func split(_ line: Substring, file: String, line number: Int) throws -> [String] {
        var fields: [String] = []
        var field = ""
        var quoted = false, wasQuoted = false
        var i = line.startIndex
        while i < line.endIndex {
            let c = line[i]
            if quoted {
                if c == "\"" {
                    let next = line.index(after: i)
                    if next < line.endIndex && line[next] == "\"" {
                        field.append("\"")
                        i = next
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "," {
                fields.append(field)
                field = ""
                wasQuoted = false
            } else if c == "\"" && field.isEmpty && !wasQuoted {
                quoted = true
                wasQuoted = true
            } else {
                field.append(c)
            }
            i = line.index(after: i)
        }
        if quoted { throw DataError("\(file):\(number): a quoted field is not closed on its line") }
        fields.append(field)
        return fields
    }
}
