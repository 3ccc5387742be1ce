import Foundation

/// A float32 tensor as stored in a safetensors file.
public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Float]
    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "tensor shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }
}

public struct SafeTensorsError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

/// The safetensors format: 8-byte little-endian header length, a JSON header mapping each tensor
/// name to dtype, shape and data_offsets (relative to the end of the header), optional
/// `__metadata__` of strings, then the raw little-endian bytes.
public enum SafeTensors {
    public static func read(_ url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SafeTensorsError(file: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try parse([UInt8](data), name: url.path)
    }

    public static func parse(_ bytes: [UInt8], name: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func fail(_ reason: String) -> SafeTensorsError { SafeTensorsError(file: name, reason: reason) }
        guard bytes.count >= 8 else { throw fail("truncated: \(bytes.count) bytes, not even a header length") }
        let headerLength = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(bytes.count - 8), headerLength < 100_000_000 else {
            throw fail("truncated or not a safetensors file: header length \(headerLength) but the file has \(bytes.count) bytes")
        }
        let dataStart = 8 + Int(headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])), let header = json as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in header {
            if key == "__metadata__" {
                for (k, v) in value as? [String: Any] ?? [:] { metadata[k] = v as? String ?? "\(v)" }
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), offsets.count == 2 else {
                throw fail("tensor \(key): malformed header entry")
            }
            let count = shape.reduce(1, *)
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F64": width = 8
            default: throw fail("tensor \(key): dtype \(dtype) not supported (F32 or F64 expected)")
            }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[1] - offsets[0] == count * width else {
                throw fail("tensor \(key): shape \(shape) \(dtype) does not match data_offsets \(offsets)")
            }
            guard dataStart + offsets[1] <= bytes.count else {
                throw fail("truncated: tensor \(key) needs bytes up to \(dataStart + offsets[1]) but the file has \(bytes.count)")
            }
            let start = dataStart + offsets[0]
            let values: [Float] = bytes.withUnsafeBytes { raw in
                (0..<count).map { i in
                    if width == 4 {
                        return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self)))
                    }
                    return Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: start + 8 * i, as: UInt64.self))))
                }
            }
            tensors[key] = Tensor(shape: shape, values: values)
        }
        return (tensors, metadata)
    }

    /// Serializes float32 tensors in the given order.
    public static func serialize(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:]) throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, t) in tensors {
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]]
            offset += 4 * t.values.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces so the data is 8-byte aligned
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count + offset)
        let n = UInt64(json.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
        out += json
        for (_, t) in tensors {
            t.values.withUnsafeBytes { out += $0 }  // little-endian on every platform Swift runs this on
        }
        return out
    }

    /// Writes atomically: a temporary file in the same directory, then a rename.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        try AtomicFile.write(Data(serialize(tensors, metadata: metadata)), to: url)
    }
}

/// Writes a whole file or nothing: a temporary file in the destination's directory, flushed to disk
/// (fsync), then rename(2) and the directory flushed, so that neither kill -9 nor a power cut leaves a
/// half-written file under the destination's name.
public enum AtomicFile {
    /// Temporary files carry this in their names (`.NAME.tmp-PID-RANDOM`): what a process killed
    /// mid-write leaves behind, never under a real file's name.
    public static let temporaryMarker = ".tmp-"

    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(contentsOf: data) }
    }

    /// Writes what `body` writes to the handle (a file too large to hold in memory, say) into a temporary
    /// file, flushes it and renames it over `url`: `url` is either untouched or whole.
    public static func write(to url: URL, _ body: (FileHandle) throws -> Void) throws {
        let dir = url.deletingLastPathComponent()
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent)\(temporaryMarker)\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            guard FileManager.default.createFile(atPath: temp.path, contents: nil) else {
                throw SafeTensorsError(file: url.path, reason: "cannot create \(temp.lastPathComponent) in \(dir.path): \(String(cString: strerror(errno)))")
            }
            let handle = try FileHandle(forWritingTo: temp)
            do {
                try body(handle)
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                throw error
            }
            if rename(temp.path, url.path) != 0 {
                throw SafeTensorsError(file: url.path, reason: "cannot rename into place: \(String(cString: strerror(errno)))")
            }
            syncDirectory(dir)
        } catch {
            try? FileManager.default.removeItem(at: temp)
            if error is SafeTensorsError || error is DataError { throw error }
            throw SafeTensorsError(file: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Flushes a directory's entries (a rename) to disk; best effort.
    static func syncDirectory(_ dir: URL) {
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
