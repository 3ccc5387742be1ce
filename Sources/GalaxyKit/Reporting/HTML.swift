import Foundation

/// Markup that escapes what is put into it. The literal parts of an `HTML` string are markup the code
/// writes; every `\(text)` of a string is escaped for HTML text and attribute values alike (`&`, `<`, `>`,
/// `"`, `'`), so a column name, a path or an error message can never become an element or an attribute;
/// numbers are written as they print; `\(html)` of another `HTML` is inserted as it is (it was escaped when
/// it was built). `\(unescaped: s)` is the one way around the escaping, named so that a reader sees it: for
/// markup the code itself assembled as a plain string, never for text from data.
public struct HTML: ExpressibleByStringInterpolation, CustomStringConvertible, Sendable, Equatable {
    public private(set) var markup: String

    public init(stringLiteral value: String) { markup = value }
    public init(stringInterpolation: StringInterpolation) { markup = stringInterpolation.markup }
    public var description: String { markup }

    public struct StringInterpolation: StringInterpolationProtocol {
        var markup = ""
        public init(literalCapacity: Int, interpolationCount: Int) { markup.reserveCapacity(literalCapacity + 16 * interpolationCount) }
        public mutating func appendLiteral(_ literal: String) { markup += literal }
        /// Text: escaped.
        public mutating func appendInterpolation<S: StringProtocol>(_ text: S) { markup += HTML.escape(String(text)) }
        /// A number as it prints (digits, sign, point, exponent: nothing to escape).
        public mutating func appendInterpolation<N: Numeric & CustomStringConvertible>(_ number: N) { markup += number.description }
        /// Markup built (and escaped) as HTML.
        public mutating func appendInterpolation(_ html: HTML) { markup += html.markup }
        /// Not escaped: markup the code wrote itself.
        public mutating func appendInterpolation(unescaped markup: String) { self.markup += markup }
    }

    public static func + (a: HTML, b: HTML) -> HTML { HTML(markup: a.markup + b.markup) }
    public static func += (a: inout HTML, b: HTML) { a.markup += b.markup }
    private init(markup: String) { self.markup = markup }

    /// `text` with the five characters that can end text or an attribute value replaced by references.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

extension Sequence where Element == HTML {
    public func joined(separator: HTML = "") -> HTML {
        var out: HTML = ""
        for (i, h) in enumerated() { if i > 0 { out += separator }; out += h }
        return out
    }
}
