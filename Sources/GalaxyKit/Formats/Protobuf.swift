import Foundation

/// Protocol Buffers' wire format, the part TensorBoard's event files and ONNX models use: varints, 64-bit
/// and 32-bit little-endian values, and length-delimited strings, bytes and messages. The messages
/// themselves (TensorBoardProto.swift, OnnxProto.swift) say which field numbers they write and read,
/// following Protos/*.proto. (This replaced swift-protobuf, whose compilation was a third of every
/// release build, for the 14 messages galaxy writes; FormatReaderTests read what it writes with
/// TensorBoard's reader, onnx.checker and ONNX Runtime.)
public enum ProtobufWire {
    public static let varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
}

public struct ProtobufError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "malformed protobuf message: \(reason)" }
}

/// A message being written, field by field, in the order the calls come.
public struct ProtobufWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    mutating func rawVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func tag(_ field: Int, _ wire: Int) { rawVarint(UInt64(field << 3 | wire)) }

    /// int32, int64 and enum fields: a negative value takes ten bytes, as its 64-bit two's complement.
    public mutating func int(_ field: Int, _ value: Int64) {
        tag(field, ProtobufWire.varint)
        rawVarint(UInt64(bitPattern: value))
    }

    public mutating func double(_ field: Int, _ value: Double) {
        tag(field, ProtobufWire.fixed64)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    public mutating func float(_ field: Int, _ value: Float) {
        tag(field, ProtobufWire.fixed32)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    public mutating func bytes(_ field: Int, _ value: [UInt8]) {
        tag(field, ProtobufWire.lengthDelimited)
        rawVarint(UInt64(value.count))
        bytes += value
    }

    public mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    public mutating func message(_ field: Int, _ value: some ProtobufMessage) { bytes(field, value.serializedBytes()) }

    /// A repeated int64 field packed into one length-delimited value.
    public mutating func packedInts(_ field: Int, _ values: [Int64]) {
        var inner = ProtobufWriter()
        for v in values { inner.rawVarint(UInt64(bitPattern: v)) }
        bytes(field, inner.bytes)
    }
}

/// One field read from a message: its number and its value.
public struct ProtobufField {
    public enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        case bytes(ArraySlice<UInt8>)
    }
    public let number: Int
    public let value: Value

    public var int: Int64 {
        get throws {
            guard case .varint(let v) = value else { throw ProtobufError(reason: "field \(number) is not a varint") }
            return Int64(bitPattern: v)
        }
    }
    public var double: Double {
        get throws {
            guard case .fixed64(let v) = value else { throw ProtobufError(reason: "field \(number) is not a 64-bit value") }
            return Double(bitPattern: v)
        }
    }
    public var float: Float {
        get throws {
            guard case .fixed32(let v) = value else { throw ProtobufError(reason: "field \(number) is not a 32-bit value") }
            return Float(bitPattern: v)
        }
    }
    public var bytes: [UInt8] {
        get throws {
            guard case .bytes(let b) = value else { throw ProtobufError(reason: "field \(number) is not length-delimited") }
            return Array(b)
        }
    }
    public var string: String {
        get throws {
            guard let s = String(bytes: try bytes, encoding: .utf8) else { throw ProtobufError(reason: "field \(number) is not UTF-8") }
            return s
        }
    }
    public func message<M: ProtobufMessage>(_: M.Type = M.self) throws -> M { try M(serializedBytes: try bytes) }

    /// A repeated int64 field's values in this record: one (unpacked) or any number (packed).
    public var ints: [Int64] {
        get throws {
            switch value {
            case .varint(let v): return [Int64(bitPattern: v)]
            case .bytes(let b):
                var r = ProtobufReader(b), out: [Int64] = []
                while !r.atEnd { out.append(Int64(bitPattern: try r.rawVarint())) }
                return out
            default: throw ProtobufError(reason: "field \(number) is not a repeated integer")
            }
        }
    }
}

/// Reads a message's fields in order; a truncated or malformed message throws.
public struct ProtobufReader {
    private let data: ArraySlice<UInt8>
    private var at: Int

    public init(_ data: ArraySlice<UInt8>) {
        self.data = data
        at = data.startIndex
    }

    public var atEnd: Bool { at >= data.endIndex }

    mutating func rawVarint() throws -> UInt64 {
        var v: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard at < data.endIndex else { throw ProtobufError(reason: "a varint runs past the end") }
            let b = data[at]
            at += 1
            v |= UInt64(b & 0x7f) << UInt64(shift)
            if b < 0x80 { return v }
        }
        throw ProtobufError(reason: "a varint longer than 10 bytes")
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= data.endIndex - at else { throw ProtobufError(reason: "a field of \(n) bytes runs past the end") }
        defer { at += n }
        return data[at..<at + n]
    }

    private func littleEndian(_ b: ArraySlice<UInt8>) -> UInt64 { b.reversed().reduce(0) { $0 << 8 | UInt64($1) } }

    /// The next field, or nil at the end.
    public mutating func next() throws -> ProtobufField? {
        guard !atEnd else { return nil }
        let key = try rawVarint()
        let number = Int(key >> 3)
        guard number > 0 else { throw ProtobufError(reason: "field number 0") }
        switch Int(key & 7) {
        case ProtobufWire.varint: return ProtobufField(number: number, value: .varint(try rawVarint()))
        case ProtobufWire.fixed64: return ProtobufField(number: number, value: .fixed64(littleEndian(try take(8))))
        case ProtobufWire.fixed32: return ProtobufField(number: number, value: .fixed32(UInt32(littleEndian(try take(4)))))
        case ProtobufWire.lengthDelimited:
            let n = try rawVarint()
            guard n <= UInt64(Int.max) else { throw ProtobufError(reason: "a length of \(n)") }
            return ProtobufField(number: number, value: .bytes(try take(Int(n))))
        case let wire: throw ProtobufError(reason: "field \(number) has wire type \(wire), which these messages do not use")
        }
    }
}

/// A message galaxy writes (and reads back): its fields in field-number order, as protoc's code writes them.
public protocol ProtobufMessage {
    init()
    func write(to w: inout ProtobufWriter)
    /// Takes one field of the message; fields it does not know are skipped, as protobuf's readers do.
    mutating func read(_ field: ProtobufField) throws
}

extension ProtobufMessage {
    public func serializedBytes() -> [UInt8] {
        var w = ProtobufWriter()
        write(to: &w)
        return w.bytes
    }

    public init<Bytes: Collection<UInt8>>(serializedBytes bytes: Bytes) throws {
        self.init()
        var r = ProtobufReader(ArraySlice(bytes))
        while let field = try r.next() { try read(field) }
    }

    /// A message built by `populate`, e.g. `Onnx_OperatorSetIdProto.with { $0.version = 17 }`.
    public static func with(_ populate: (inout Self) throws -> Void) rethrows -> Self {
        var m = Self()
        try populate(&m)
        return m
    }
}
