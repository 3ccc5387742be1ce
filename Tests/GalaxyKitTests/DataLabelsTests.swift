import Foundation
import XCTest
@testable import GalaxyKit

final class DataLabelsTests: XCTestCase {
    func parse(_ text: String) throws -> GalaxyLabels {
        try GalaxyLabels.parse(Array(text.utf8), name: "labels.csv")
    }

    /// Asserts that parsing fails with a message containing every fragment.
    func assertRejects(_ text: String, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: line) { error in
            let message = "\(error)"
            for f in fragments {
                XCTAssertTrue(message.contains(f), "\"\(message)\" lacks \"\(f)\"", file: file, line: line)
            }
        }
    }

    func testParsesKaggleStyleCSV() throws {
        let labels = try parse("GalaxyID,Class1.1,Class1.2,Class1.3\r\n100008,0.383147,0.616853,0.0\r\n100023,0.327001,0.663777,0.009222\r\n")
        XCTAssertEqual(labels.columns, ["Class1.1", "Class1.2", "Class1.3"])
        XCTAssertEqual(labels.ids, [100008, 100023])
        XCTAssertEqual(labels.targets, [0.383147, 0.616853, 0.0, 0.327001, 0.663777, 0.009222])
    }

    func testParsesSharedSpiralLabels() throws {
        let labels = try GalaxyLabels.load(SharedData.kaggleSample.appendingPathComponent("spiral_labels.csv"))
        XCTAssertEqual(labels.columns, ["Spiral"])
        XCTAssertEqual(labels.count, 240)
        XCTAssertEqual(labels.targets.filter { $0 == 1 }.count, 120)
    }

    func testRejectsWrongHeader() {
        assertRejects("ID,Class1.1\n1,0.5\n", ["labels.csv:1", "GalaxyID", "\"ID\""])
        assertRejects("GalaxyID\n1\n", ["labels.csv:1", "no target columns"])
        assertRejects("GalaxyID,A,A\n1,0.5,0.5\n", ["labels.csv:1", "\"A\" appears twice"])
        assertRejects("", ["labels.csv", "empty"])
    }

    /// Column names are shown in reports and tables as they are: any printable text, but no control
    /// characters (a tab, an escape, a carriage return inside a name, a bidirectional override).
    func testColumnNamesMayHoldAnyPrintableTextButNoControlCharacters() throws {
        assertRejects("GalaxyID,A\u{1B}[31m,B\n1,0.5,0.5\n", ["labels.csv:1", "target column 2", "U+001B", "A\\u{1B}[31m"])
        assertRejects("GalaxyID,A,B\tC\n1,0.5,0.5\n", ["labels.csv:1", "target column 3", "U+0009"])
        assertRejects("GalaxyID,A\rB,C\n1,0.5,0.5\n", ["labels.csv:1", "target column 2", "U+000D"])
        assertRejects("GalaxyID,A\u{202E}B,C\n1,0.5,0.5\n", ["labels.csv:1", "target column 2", "U+202E"])
        let hostile = "<img src=x onerror=alert(1)> \"q\" 'q' & ]]> </svg> Ümlaut 日本"
        let labels = try GalaxyLabels.parse(Array("GalaxyID,\(hostile),B\r\n1,0.5,0.5\r\n".utf8), name: "labels.csv")
        XCTAssertEqual(labels.columns, [hostile, "B"], "printable names are taken as they are")
    }

    func testRejectsMissingAndExtraFields() {
        assertRejects("GalaxyID,A,B\n1,0.5,0.5\n2,0.5\n", ["labels.csv:3", "expected 3 fields", "found 2"])
        assertRejects("GalaxyID,A,B\n1,0.5,0.5,0.1\n", ["labels.csv:2", "expected 3 fields", "found 4"])
        assertRejects("GalaxyID,A\n1,0.5\n\n2,0.5\n", ["labels.csv:3", "empty line"])
    }

    func testRejectsBadValues() {
        assertRejects("GalaxyID,A\n1,0.5\n2,abc\n", ["labels.csv:3", "GalaxyID 2", "column A", "\"abc\" is not a number"])
        assertRejects("GalaxyID,A\n1,\n", ["labels.csv:2", "\"\" is not a number"])
        assertRejects("GalaxyID,A\n1,nan\n", ["labels.csv:2", "NaN"])
        assertRejects("GalaxyID,A\n1,1.5\n", ["labels.csv:2", "outside [0,1]"])
        assertRejects("GalaxyID,A\n1,-0.01\n", ["labels.csv:2", "outside [0,1]"])
        assertRejects("GalaxyID,A\n1,inf\n", ["labels.csv:2", "outside [0,1]"])
        assertRejects("GalaxyID,A\nx7,0.5\n", ["labels.csv:2", "GalaxyID \"x7\""])
    }

    func testRejectsDuplicateIDs() {
        assertRejects("GalaxyID,A\n7,0.5\n8,0.5\n7,0.25\n", ["labels.csv:4", "duplicate GalaxyID 7", "line 2"])
    }

    func testRejectsEmptyDataSet() {
        assertRejects("GalaxyID,A,B\n", ["labels.csv", "no data rows"])
    }
}
