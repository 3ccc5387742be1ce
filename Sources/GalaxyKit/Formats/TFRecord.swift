import Foundation

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of TFRecord framing.
public enum CRC32C {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord stores CRCs rotated right by 15 bits plus a constant: a CRC of data that itself holds
    /// CRCs would otherwise be weak.
    public static func masked<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}

/// TFRecord framing, the container of TensorBoard's event files: per record a little-endian uint64
/// length, the masked CRC-32C of those 8 bytes, the data, and the masked CRC-32C of the data.
public enum TFRecord {
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(data.count + 16)
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian) { [UInt8]($0) }
        out += length
        withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { out += $0 }
        out += data
        withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { out += $0 }
        return out
    }

    /// The records of `bytes` up to the first one that is incomplete or fails its checksums (a file
    /// cut short by a kill while appending), with the byte offset where each record starts and where
    /// the intact part ends.
    public static func records(_ bytes: [UInt8]) -> (records: [(offset: Int, data: [UInt8])], intactEnd: Int) {
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
        var out: [(offset: Int, data: [UInt8])] = []
        var at = 0
        while bytes.count - at >= 12 {
            let header = bytes[at..<(at + 8)]
            guard CRC32C.masked(header) == u32(at + 8) else { break }
            let length = header.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            guard length <= UInt64(bytes.count - at - 16) else { break }
            let start = at + 12, end = start + Int(length)
            guard CRC32C.masked(bytes[start..<end]) == u32(end) else { break }
            out.append((at, Array(bytes[start..<end])))
            at = end + 4
        }
        return (out, at)
    }
}
