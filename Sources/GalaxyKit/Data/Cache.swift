import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private let posixWrite = Glibc.write
private let posixRead = Glibc.read
#elseif canImport(Darwin)
private let posixWrite = Darwin.write
private let posixRead = Darwin.read
#endif

/// A preprocessed labelled data set, in memory.
public struct GalaxyDataset: Sendable {
    /// Target column names (the CSV header minus GalaxyID).
    public var columns: [String]
    public var ids: [Int64]
    /// ids.count x columns.count, row-major.
    public var targets: [Float]
    /// ids.count x (3*69*69), uint8 CHW per image.
    public var images: [UInt8]
    public var count: Int { ids.count }
    public static let imageSide = 69
    public static let imageBytes = 3 * imageSide * imageSide

    public init(columns: [String], ids: [Int64], targets: [Float], images: [UInt8]) {
        precondition(targets.count == ids.count * columns.count && images.count == ids.count * Self.imageBytes,
                     "GalaxyDataset: array sizes do not match \(ids.count) galaxies x \(columns.count) columns")
        self.columns = columns
        self.ids = ids
        self.targets = targets
        self.images = images
    }
}

/// An image left out of the data set by a non-strict prepare.
public struct SkippedImage: Sendable, Equatable, CustomStringConvertible {
    public var id: Int64
    public var reason: String
    public var description: String { "GalaxyID \(id): \(reason)" }
}

/// What `loadOrPrepare` did.
public struct PrepareReport: Sendable {
    public var cache: URL
    /// True when the images were decoded now (no usable cache).
    public var rebuilt: Bool
    /// Why an existing cache file was not used (nil when there was none or it was used).
    public var rebuildReason: String?
    /// Images left out (bad JPEG, too small), from this run or from the run that wrote the cache.
    public var skipped: [SkippedImage]
}

/// What a cache was computed from; a cache whose fingerprint differs from the sources' is stale.
struct SourceFingerprint: Equatable {
    var csvSize: UInt64
    var csvHash: UInt64
    /// Hash over every referenced image's GalaxyID, byte size and modification time.
    var imagesHash: UInt64
}

/// The preprocessed cache file: every image decoded, cropped and resized once.
///
/// Layout (little-endian):
/// ```
/// 0   "GLXCACHE"            magic
/// 8   u32 format version    (bumped when the layout or the preprocessing changes)
/// 12  u32 image side (69), u32 channels (3), u32 target count k
/// 24  u64 galaxy count n
/// 32  u64 CSV byte size, u64 CSV content hash, u64 image fingerprint, u64 payload checksum
/// 64  u32 byte length L of the metadata block
/// 68  metadata: k x (u32 length + UTF-8 column name), u32 skipped count, skipped x (i64 GalaxyID, u32 length + UTF-8 reason)
///     zero padding to a multiple of 8
///     n x i64 GalaxyIDs, n*k x f32 targets, n x 3*69*69 u8 images (CHW)
/// ```
/// The checksum covers the metadata and the three arrays; the file size must match exactly.
public enum GalaxyCache {
    static let magic = Array("GLXCACHE".utf8)
    public static let formatVersion: UInt32 = 1
    static let fixedHeaderSize = 68

    /// Loads the cache of `source` when it is current, otherwise decodes every image (in parallel)
    /// and writes a new cache atomically. `strict`: a bad image is an error instead of being skipped.
    public static func loadOrPrepare(_ source: DataSource, strict: Bool, progress: ProgressReporter?) throws -> GalaxyDataset {
        try loadOrPrepareWithReport(source, strict: strict, progress: progress).dataset
    }

    /// As `loadOrPrepare`, also saying whether the cache was rebuilt and which images were skipped.
    public static func loadOrPrepareWithReport(_ source: DataSource, strict: Bool, progress: ProgressReporter?,
                                               threads: Int? = nil) throws -> (dataset: GalaxyDataset, report: PrepareReport) {
        guard FileManager.default.fileExists(atPath: source.csv.path) else {
            throw DataError("\(source.csv.path): labels CSV not found (give its path with --csv)")
        }
        let csvBytes = try readFileBytes(source.csv)
        let labels = try GalaxyLabels.parse(csvBytes, name: source.csv.path)
        let fingerprint = SourceFingerprint(csvSize: UInt64(csvBytes.count), csvHash: checksum(csvBytes),
                                            imagesHash: try imageFingerprint(source, ids: labels.ids))
        let (cache, note) = source.resolvedCache()
        if let note { progress?.note(note) }
        // A current cache is read without a lock (it is replaced by rename, never written in place).
        if case .current(let result)? = try current(cache, fingerprint: fingerprint, labels: labels, strict: strict) { return result }
        // One process prepares a cache at a time; another waits for it, then uses what it wrote.
        let folder = cache.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw DataError("\(folder.path): cannot create the folder of the prepared cache: \(error.localizedDescription)")
        }
        let lock: FileLock
        do {
            lock = try FileLock.acquireWaiting(cache.appendingPathExtension("lock"), purpose: "galaxy-prepare") { holder in
                progress?.note("\(cache.path): waiting for \(holder), which prepares it")
            }
        } catch FileLock.Failure.cannotOpen(let why) {
            throw DataError("\(why) (give the prepared cache another place with --cache PATH)")
        }
        defer { lock.release() }
        var reason: String? = nil
        switch try current(cache, fingerprint: fingerprint, labels: labels, strict: strict) {
        case .current(let result)?: return result
        case .unusable(let why)?:
            reason = why
            progress?.note("\(cache.path): \(why); rebuilding it")
        case nil: break
        }
        let (dataset, skipped) = try build(source, labels: labels, strict: strict, progress: progress, threads: threads)
        try write(dataset, skipped: skipped, fingerprint: fingerprint, to: cache)
        return (dataset, PrepareReport(cache: cache, rebuilt: true, rebuildReason: reason, skipped: skipped))
    }

    enum Lookup {
        case current((dataset: GalaxyDataset, report: PrepareReport))
        case unusable(String)
    }

    /// The cache at `url` when it is current, why not when it is not, nil when there is none.
    static func current(_ url: URL, fingerprint: SourceFingerprint, labels: GalaxyLabels, strict: Bool) throws -> Lookup? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        switch try read(url, expecting: fingerprint, columns: labels.columns) {
        case .current(let dataset, let skipped):
            if strict && !skipped.isEmpty {
                throw DataError("\(url.path): the cache was prepared without --strict and left out \(skipped.count) image(s): "
                                + describe(skipped) + "; fix or remove them (the cache is then rebuilt)")
            }
            return .current((dataset, PrepareReport(cache: url, rebuilt: false, rebuildReason: nil, skipped: skipped)))
        case .unusable(let why):
            return .unusable(why)
        }
    }

    static func describe(_ skipped: [SkippedImage], limit: Int = 10) -> String {
        var text = skipped.prefix(limit).map(\.description).joined(separator: "; ")
        if skipped.count > limit { text += "; and \(skipped.count - limit) more" }
        return text
    }

    /// Decodes every labelled image; bad ones are skipped (or fatal when `strict`).
    static func build(_ source: DataSource, labels: GalaxyLabels, strict: Bool, progress: ProgressReporter?,
                      threads: Int?) throws -> (GalaxyDataset, [SkippedImage]) {
        let urls = labels.ids.map(source.imageURL(for:))
        progress?.reset(label: "prepare", total: urls.count)
        let result = preprocessImageFiles(urls, threads: threads, progress: progress)
        progress?.finish()
        let skipped = result.failures.map { SkippedImage(id: labels.ids[$0.index], reason: "\($0.path): \($0.reason)") }
        if strict && !skipped.isEmpty {
            throw DataError("\(skipped.count) bad image(s) (--strict): " + describe(skipped))
        }
        if skipped.count == labels.count {
            throw DataError("\(source.images.path): none of the \(labels.count) images could be used (empty data set): " + describe(skipped))
        }
        if skipped.isEmpty {
            return (GalaxyDataset(columns: labels.columns, ids: labels.ids, targets: labels.targets, images: result.images), [])
        }
        // Compact the arrays, keeping the CSV order of the good images.
        let bad = Set(result.failures.map(\.index))
        let k = labels.columns.count
        let stride = GalaxyDataset.imageBytes
        var ids: [Int64] = [], targets: [Float] = [], images: [UInt8] = []
        ids.reserveCapacity(labels.count - bad.count)
        targets.reserveCapacity((labels.count - bad.count) * k)
        images.reserveCapacity((labels.count - bad.count) * stride)
        for i in 0..<labels.count where !bad.contains(i) {
            ids.append(labels.ids[i])
            targets.append(contentsOf: labels.targets[(i * k)..<((i + 1) * k)])
            images.append(contentsOf: result.images[(i * stride)..<((i + 1) * stride)])
        }
        return (GalaxyDataset(columns: labels.columns, ids: ids, targets: targets, images: images), skipped)
    }

    /// Stats every referenced image: a missing one is an error naming the GalaxyID and the path.
    static func imageFingerprint(_ source: DataSource, ids: [Int64]) throws -> UInt64 {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source.images.path, isDirectory: &isDir), isDir.boolValue else {
            throw DataError("\(source.images.path): image folder not found (the CSV \(source.csv.path) needs <GalaxyID>.jpg files there)")
        }
        var words: [UInt64] = []
        words.reserveCapacity(ids.count * 4)
        var missing: [String] = []
        var missingCount = 0
        for id in ids {
            let path = source.imageURL(for: id).path
            var st = stat()
            guard stat(path, &st) == 0 else {
                missingCount += 1
                if missing.count < 5 { missing.append("GalaxyID \(id): expected \(path)") }
                continue
            }
            #if canImport(Darwin)
            let (sec, nsec) = (Int64(st.st_mtimespec.tv_sec), Int64(st.st_mtimespec.tv_nsec))
            #else
            let (sec, nsec) = (Int64(st.st_mtim.tv_sec), Int64(st.st_mtim.tv_nsec))
            #endif
            words += [UInt64(bitPattern: id), UInt64(st.st_size), UInt64(bitPattern: sec), UInt64(bitPattern: nsec)]
        }
        if missingCount > 0 {
            throw DataError("\(missingCount) image(s) listed in \(source.csv.path) are missing: " + missing.joined(separator: "; ")
                            + (missingCount > missing.count ? "; ..." : ""))
        }
        return words.withUnsafeBytes { checksum($0) }
    }

    // MARK: - File format

    enum ReadResult {
        case current(GalaxyDataset, skipped: [SkippedImage])
        case unusable(String)
    }

    /// Reads the cache if it was made from the same sources with the same preprocessing.
    /// A stale, old-format, truncated or corrupt cache is `.unusable(reason)`; a file that is not a
    /// cache at all is an error, so that a mistyped --cache never overwrites someone's file.
    static func read(_ url: URL, expecting fingerprint: SourceFingerprint?, columns: [String]?) throws -> ReadResult {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw DataError("\(url.path): cannot open the cache: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DataError("\(url.path): cannot stat the cache") }
        let fileSize = Int(st.st_size)
        var reader = FDReader(fd: fd, path: url.path)
        guard fileSize >= magic.count else {
            var start = [UInt8](repeating: 0, count: fileSize)
            if fileSize == 0 || (reader.read(into: &start) && Array(magic.prefix(fileSize)) == start) {
                return .unusable("the cache is truncated (\(fileSize) bytes)")
            }
            throw DataError("\(url.path): not a galaxy cache file (too short); refusing to overwrite it, remove it or choose another --cache")
        }
        var fixed = [UInt8](repeating: 0, count: min(fixedHeaderSize, fileSize))
        guard reader.read(into: &fixed) else { return .unusable("cannot read the cache header") }
        guard Array(fixed[0..<magic.count]) == magic else {
            throw DataError("\(url.path): not a galaxy cache file (wrong magic bytes); refusing to overwrite it, remove it or choose another --cache")
        }
        guard fixed.count == fixedHeaderSize else { return .unusable("the cache is truncated (\(fileSize) bytes, header incomplete)") }
        var p = ByteParser(bytes: fixed, position: magic.count)
        let version = p.u32()!
        guard version == formatVersion else { return .unusable("the cache has format version \(version), this build writes \(formatVersion)") }
        let side = p.u32()!, channels = p.u32()!, k = Int(p.u32()!)
        let n = p.u64()!
        let stored = SourceFingerprint(csvSize: p.u64()!, csvHash: p.u64()!, imagesHash: p.u64()!)
        let storedChecksum = p.u64()!
        let metaLength = Int(p.u32()!)
        guard side == UInt32(GalaxyDataset.imageSide), channels == 3 else {
            return .unusable("the cache holds \(channels)x\(side)x\(side) images, expected 3x\(GalaxyDataset.imageSide)x\(GalaxyDataset.imageSide)")
        }
        if let fingerprint, fingerprint != stored {
            return .unusable(fingerprint.csvHash != stored.csvHash || fingerprint.csvSize != stored.csvSize
                             ? "the cache is stale (made from a different labels CSV)"
                             : "the cache is stale (images were added, removed or modified since it was made)")
        }
        // Sizes: computed with overflow checks so that a corrupt count cannot trigger a huge allocation.
        let metaEnd = fixedHeaderSize + metaLength
        let dataStart = (metaEnd + 7) / 8 * 8
        guard n <= UInt64(Int.max / 8), k <= 1 << 16 else { return .unusable("the cache header is corrupt (count \(n), \(k) targets)") }
        let count = Int(n)
        let perImage = 8 + 4 * k + GalaxyDataset.imageBytes
        let (payload, overflow) = count.multipliedReportingOverflow(by: perImage)
        guard !overflow, dataStart + payload == fileSize else {
            return .unusable("the cache is truncated or corrupt (\(fileSize) bytes, the header announces \(overflow ? -1 : dataStart + payload))")
        }
        var meta = [UInt8](repeating: 0, count: dataStart - fixedHeaderSize)
        guard reader.read(into: &meta) else { return .unusable("cannot read the cache metadata") }
        var hasher = Checksum64()
        meta.withUnsafeBytes { hasher.add($0) }
        var m = ByteParser(bytes: meta, position: 0)
        var storedColumns: [String] = []
        for _ in 0..<k {
            guard let name = m.string() else { return .unusable("the cache metadata is corrupt") }
            storedColumns.append(name)
        }
        guard let skippedCount = m.u32(), Int(skippedCount) <= meta.count else { return .unusable("the cache metadata is corrupt") }
        var skipped: [SkippedImage] = []
        for _ in 0..<skippedCount {
            guard let id = m.u64(), let why = m.string() else { return .unusable("the cache metadata is corrupt") }
            skipped.append(SkippedImage(id: Int64(bitPattern: id), reason: why))
        }
        if let columns, columns != storedColumns {
            return .unusable("the cache has target columns \(storedColumns.prefix(3))..., the CSV \(columns.prefix(3))...")
        }
        var ids = [Int64](repeating: 0, count: count)
        var targets = [Float](repeating: 0, count: count * k)
        var images = [UInt8](repeating: 0, count: count * GalaxyDataset.imageBytes)
        guard reader.read(into: &ids), reader.read(into: &targets), reader.read(into: &images) else {
            return .unusable("the cache is truncated")
        }
        ids.withUnsafeBytes { hasher.add($0) }
        targets.withUnsafeBytes { hasher.add($0) }
        images.withUnsafeBytes { hasher.add($0) }
        guard hasher.value == storedChecksum else { return .unusable("the cache is corrupt (checksum mismatch)") }
        return .current(GalaxyDataset(columns: storedColumns, ids: ids.map { Int64(littleEndian: $0) },
                                      targets: targets, images: images), skipped: skipped)
    }

    /// Writes the cache atomically: a temporary file in the same folder, fsync, rename.
    static func write(_ dataset: GalaxyDataset, skipped: [SkippedImage], fingerprint: SourceFingerprint, to url: URL) throws {
        var meta = ByteWriter()
        for c in dataset.columns { meta.string(c) }
        meta.u32(UInt32(skipped.count))
        for s in skipped { meta.u64(UInt64(bitPattern: s.id)); meta.string(s.reason) }
        let metaLength = meta.bytes.count
        while (fixedHeaderSize + meta.bytes.count) % 8 != 0 { meta.bytes.append(0) }
        var hasher = Checksum64()
        meta.bytes.withUnsafeBytes { hasher.add($0) }
        dataset.ids.withUnsafeBytes { hasher.add($0) }
        dataset.targets.withUnsafeBytes { hasher.add($0) }
        dataset.images.withUnsafeBytes { hasher.add($0) }
        var header = ByteWriter()
        header.bytes += magic
        header.u32(formatVersion)
        header.u32(UInt32(GalaxyDataset.imageSide)); header.u32(3); header.u32(UInt32(dataset.columns.count))
        header.u64(UInt64(dataset.count))
        header.u64(fingerprint.csvSize); header.u64(fingerprint.csvHash); header.u64(fingerprint.imagesHash)
        header.u64(hasher.value)
        header.u32(UInt32(metaLength))
        assert(header.bytes.count == fixedHeaderSize)

        let dir = url.deletingLastPathComponent()
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw DataError("\(url.path): cannot write the cache in \(dir.path): \(String(cString: strerror(errno))) (choose a writable place with --cache)")
        }
        var ok = false
        defer {
            if !ok { close(fd); unlink(temp.path) }
        }
        func put(_ buffer: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < buffer.count {
                let written = posixWrite(fd, buffer.baseAddress! + offset, min(buffer.count - offset, 1 << 30))
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw DataError("\(temp.path): write failed: \(String(cString: strerror(errno)))") }
                offset += written
            }
        }
        try header.bytes.withUnsafeBytes(put)
        try meta.bytes.withUnsafeBytes(put)
        try dataset.ids.map { $0.littleEndian }.withUnsafeBytes(put)
        try dataset.targets.withUnsafeBytes(put)
        try dataset.images.withUnsafeBytes(put)
        guard fsync(fd) == 0 else { throw DataError("\(temp.path): fsync failed: \(String(cString: strerror(errno)))") }
        close(fd)
        guard rename(temp.path, url.path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temp.path)
            ok = true
            throw DataError("\(url.path): cannot move the new cache into place: \(message)")
        }
        ok = true
    }
}

// MARK: - Small binary helpers

/// A fast 64-bit checksum (FNV-style over 8-byte words), to detect corrupt caches and changed inputs;
/// not cryptographic.
struct Checksum64 {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        let words = bytes.count / 8
        for i in 0..<words {
            h = (h ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))) &* 0x100_0000_01B3
            h ^= h >> 29
        }
        for i in (words * 8)..<bytes.count {
            h = (h ^ UInt64(bytes[i])) &* 0x100_0000_01B3
        }
        h = (h ^ UInt64(bytes.count)) &* 0x100_0000_01B3
        value = h
    }
}

func checksum(_ bytes: [UInt8]) -> UInt64 {
    var h = Checksum64()
    bytes.withUnsafeBytes { h.add($0) }
    return h.value
}
func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var h = Checksum64()
    h.add(bytes)
    return h.value
}

struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ s: String) { let u = Array(s.utf8); u32(UInt32(u.count)); bytes += u }
}

/// Bounds-checked little-endian reads; nil past the end.
struct ByteParser {
    let bytes: [UInt8]
    var position: Int
    mutating func u32() -> UInt32? {
        guard position + 4 <= bytes.count else { return nil }
        defer { position += 4 }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[position + $1]) << (8 * UInt32($1)) }
    }
    mutating func u64() -> UInt64? {
        guard position + 8 <= bytes.count else { return nil }
        defer { position += 8 }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[position + $1]) << (8 * UInt64($1)) }
    }
    mutating func string() -> String? {
        guard let n = u32(), Int(n) <= bytes.count - position else { return nil }
        defer { position += Int(n) }
        return String(decoding: bytes[position..<(position + Int(n))], as: UTF8.self)
    }
}

/// Reads exact byte counts from a file descriptor; false on a short read.
struct FDReader {
    let fd: Int32
    let path: String
    mutating func read<T>(into array: inout [T]) -> Bool {
        array.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let got = posixRead(fd, buffer.baseAddress! + offset, min(buffer.count - offset, 1 << 30))
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else { return false }
                offset += got
            }
            return true
        }
    }
}
