import Foundation

/// `String(format: "%.6f", Double(v))`'s text of a Float, without Foundation's formatter: a catalogue of
/// millions of rows writes 37 numbers per image, and that formatter would take more host time than decoding.
enum FixedDecimal {
    /// Appends the text of `v` with six decimals, as glibc's `%.6f` writes it.
    ///
    /// Why it is exact: a Float has a 24-bit significand and 10^6 = 15625 x 2^6 needs 14 bits, so `v * 10^6` in
    /// Double (53 bits) is exact; rounding that to an integer, ties to even, is what printf does with the exact
    /// binary value in the default rounding mode. The sign is printed whenever v's sign bit is set, as glibc
    /// does (-0.0 and -1e-9 give "-0.000000"). Non-finite and huge values go through printf itself.
    static func append(_ v: Float, to out: inout [UInt8]) {
        let d = Double(v)
        guard d.isFinite, d.magnitude < 1e12 else {
            out += Array(String(format: "%.6f", d).utf8)
            return
        }
        if d.sign == .minus { out.append(UInt8(ascii: "-")) }
        let scaled = UInt64((d.magnitude * 1e6).rounded(.toNearestOrEven))
        appendDigits(scaled / 1_000_000, to: &out)
        out.append(UInt8(ascii: "."))
        var fraction = scaled % 1_000_000
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: 6)
        for i in stride(from: 5, through: 0, by: -1) {
            digits[i] = UInt8(ascii: "0") + UInt8(fraction % 10)
            fraction /= 10
        }
        out += digits
    }

    private static func appendDigits(_ value: UInt64, to out: inout [UInt8]) {
        if value >= 10 { appendDigits(value / 10, to: &out) }
        out.append(UInt8(ascii: "0") + UInt8(value % 10))
    }
}
