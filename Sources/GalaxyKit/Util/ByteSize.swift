import Foundation

/// Sizes as users write them: bytes, or a number with K, M, G or T (powers of 1024; "KiB", "MB" and
/// lowercase read the same).
public enum ByteSize {
    public static func parse(_ text: String, what: String) throws -> Int {
        let t = text.trimmingCharacters(in: .whitespaces)
        let digits = t.prefix { $0.isNumber || $0 == "." }
        var unit = t.dropFirst(digits.count).lowercased()
        if unit.hasSuffix("ib") { unit.removeLast(2) } else if unit.count == 2 && unit.hasSuffix("b") { unit.removeLast() }
        let scale: Double? = switch unit {
        case "", "b": 1
        case "k": 1024
        case "m": 1024 * 1024
        case "g": 1024 * 1024 * 1024
        case "t": 1024 * 1024 * 1024 * 1024
        default: nil
        }
        guard let scale, let value = Double(digits), value > 0, (value * scale).isFinite, value * scale < 9e18 else {
            throw GalaxyError.message("\(what) \"\(text)\": expected a size such as 512M, 4G or a number of bytes")
        }
        return Int(value * scale)
    }

    /// KiB, MiB or GiB with one or two decimals.
    public static func describe(_ bytes: Int) -> String {
        if bytes >= 1 << 30 { return String(format: "%.2f GiB", Double(bytes) / Double(1 << 30)) }
        if bytes >= 1 << 20 { return String(format: "%.1f MiB", Double(bytes) / Double(1 << 20)) }
        return String(format: "%.1f KiB", Double(bytes) / 1024)
    }

    /// The device memory for a data set's images: `--device-memory` when given, else GALAXY_DEVICE_MEMORY, else nil.
    public static func deviceMemory(_ option: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int? {
        if let option { return try parse(option, what: "--device-memory") }
        if let env = environment["GALAXY_DEVICE_MEMORY"], !env.isEmpty { return try parse(env, what: "GALAXY_DEVICE_MEMORY") }
        return nil
    }
}
