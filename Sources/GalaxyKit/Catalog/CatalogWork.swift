import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The folder of a catalogue in progress, `OUT.parts/`, beside the output `OUT`.
///
/// It holds `catalog.json`, what the catalogue is made of (the checkpoint's digest, the input's digest, the
/// options that change the numbers), written atomically before any row; and parts. A part is the output rows of
/// consecutive images from a start index: `part-<start>.rows` (CSV rows without the header),
/// `part-<start>.errors` (the images of that stretch that did not decode) and `part-<start>.progress`, one line
/// per chunk written, `<images> <rows> <row bytes> <error bytes>`, appended and flushed after the chunk's rows
/// and errors were flushed. What a file holds beyond its part's last progress line (a torn line of a killed
/// run) is cut off when the part is continued, and never copied into the output.
struct CatalogWork {
    let out: URL
    var folder: URL { URL(fileURLWithPath: out.path + ".parts") }
    var errorsFile: URL { URL(fileURLWithPath: out.path + ".errors") }
    var lockFile: URL { URL(fileURLWithPath: out.path + ".lock") }
    var recipeFile: URL { folder.appendingPathComponent("catalog.json") }

    func file(_ start: Int, _ kind: String) -> URL {
        folder.appendingPathComponent("part-" + String(format: "%012d", start) + "." + kind)
    }

    /// The committed state of a part.
    struct Part: Equatable {
        var start: Int
        var images = 0
        var rows = 0
        var rowBytes = 0
        var errorBytes = 0
        var end: Int { start + images }
    }

    /// Every part with at least one chunk written, by start.
    func parts() throws -> [Part] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
            throw DataError("\(folder.path): cannot list the catalogue's parts: \(error.localizedDescription)")
        }
        var parts: [Part] = []
        for name in names where name.hasPrefix("part-") && name.hasSuffix(".progress") {
            guard let start = Int(name.dropFirst(5).dropLast(9)) else { continue }
            if let part = try committed(start), part.images > 0 { parts.append(part) }
        }
        return parts.sorted { $0.start < $1.start }
    }

    /// The last whole progress line of the part at `start` (nil when it has none), checked against its files.
    func committed(_ start: Int) throws -> Part? {
        let url = file(start, "progress")
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        var part: Part?
        // Lines end in a newline; a last line without one was torn by a kill and does not count.
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let f = line.split(separator: " ").compactMap { Int($0) }
            guard f.count == 4, f.allSatisfy({ $0 >= 0 }), f[1] <= f[0] else {
                throw DataError("\(url.path): not a progress line: \"\(line)\" (remove \(folder.path) to start the catalogue over)")
            }
            part = Part(start: start, images: f[0], rows: f[1], rowBytes: f[2], errorBytes: f[3])
        }
        guard let part else { return nil }
        for (kind, bytes) in [("rows", part.rowBytes), ("errors", part.errorBytes)] {
            let size = (try? FileManager.default.attributesOfItem(atPath: file(start, kind).path)[.size] as? Int) ?? nil
            guard let size, size >= bytes else {
                throw DataError("\(file(start, kind).path): shorter (\(size ?? 0) bytes) than its progress says (\(bytes)); "
                                + "remove \(folder.path) to start the catalogue over")
            }
        }
        return part
    }

    /// The ranges of images that no part covers, in order; overlapping parts are an error.
    static func gaps(_ parts: [Part], count: Int) throws -> [Range<Int>] {
        var gaps: [Range<Int>] = []
        var next = 0
        for part in parts.sorted(by: { $0.start < $1.start }) {
            guard part.start >= next, part.end <= count else {
                throw DataError("catalogue parts overlap or run past the \(count) images at image \(part.start): the work folder is damaged")
            }
            if part.start > next { gaps.append(next..<part.start) }
            next = part.end
        }
        if next < count { gaps.append(next..<count) }
        return gaps
    }

    /// Rank `rank`'s share of the images still to do: the gaps laid end to end and cut into `ranks`
    /// contiguous shares (`Trainer.shard`), as ranges of image indices.
    static func share(of gaps: [Range<Int>], rank: Int, ranks: Int) -> [Range<Int>] {
        let mine = Trainer.shard(gaps.reduce(0) { $0 + $1.count }, rank: rank, ranks: ranks)
        var ranges: [Range<Int>] = []
        var offset = 0
        for gap in gaps {
            let lo = max(mine.lowerBound, offset), hi = min(mine.upperBound, offset + gap.count)
            if lo < hi { ranges.append((gap.lowerBound + lo - offset)..<(gap.lowerBound + hi - offset)) }
            offset += gap.count
        }
        return ranges
    }
}

/// Appends chunks to one part; see `CatalogWork`.
final class CatalogPartWriter {
    private(set) var part: CatalogWork.Part
    private let work: CatalogWork
    private var rows: Int32 = -1
    private var errors: Int32 = -1
    private var progress: Int32 = -1
    /// Bytes found past the last progress line and cut off (a torn line of a killed run).
    private(set) var cutBytes = 0

    /// Continues `part` (a new one: `images` 0), first cutting its files back to what its progress committed.
    init(_ work: CatalogWork, continuing part: CatalogWork.Part) throws {
        self.work = work
        self.part = part
        do {
            rows = try Self.openFile(work.file(part.start, "rows"))
            errors = try Self.openFile(work.file(part.start, "errors"))
            for (fd, bytes) in [(rows, part.rowBytes), (errors, part.errorBytes)] {
                let size = Int(lseek(fd, 0, SEEK_END))
                if size > bytes { cutBytes += size - bytes }
                guard ftruncate(fd, off_t(bytes)) == 0, lseek(fd, off_t(bytes), SEEK_SET) == off_t(bytes) else {
                    throw DataError("\(work.file(part.start, "rows").path): cannot cut back to its last chunk: \(String(cString: strerror(errno)))")
                }
            }
            // The progress file restarts from its last whole line, so that a torn one is not followed by new lines.
            try AtomicFile.write(Data(Self.line(part).utf8), to: work.file(part.start, "progress"))
            progress = try Self.openFile(work.file(part.start, "progress"))
            _ = lseek(progress, 0, SEEK_END)
        } catch {
            closeFiles()
            throw error
        }
    }

    deinit { closeFiles() }

    private func closeFiles() {
        for fd in [rows, errors, progress] where fd >= 0 { _ = close(fd) }
        (rows, errors, progress) = (-1, -1, -1)
    }

    static func line(_ part: CatalogWork.Part) -> String {
        part.images == 0 ? "" : "\(part.images) \(part.rows) \(part.rowBytes) \(part.errorBytes)\n"
    }

    private static func openFile(_ url: URL) throws -> Int32 {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DataError("\(url.path): cannot open: \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Appends a chunk of `images` images (`rowCount` rows, the others' error lines) and flushes it to disk.
    func commit(images: Int, rowCount: Int, rows rowBytes: [UInt8], errors errorBytes: [UInt8]) throws {
        try append(rows, rowBytes, work.file(part.start, "rows"))
        try append(errors, errorBytes, work.file(part.start, "errors"))
        try sync(rows, work.file(part.start, "rows"))
        try sync(errors, work.file(part.start, "errors"))
        part.images += images
        part.rows += rowCount
        part.rowBytes += rowBytes.count
        part.errorBytes += errorBytes.count
        try append(progress, Array(Self.line(part).utf8), work.file(part.start, "progress"))
        try sync(progress, work.file(part.start, "progress"))
    }

    private func append(_ fd: Int32, _ bytes: [UInt8], _ url: URL) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw DataError("\(url.path): cannot write: \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    private func sync(_ fd: Int32, _ url: URL) throws {
        guard fsync(fd) == 0 else { throw DataError("\(url.path): cannot flush to disk: \(String(cString: strerror(errno)))") }
    }
}
