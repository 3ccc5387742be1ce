import XCTest
@testable import GalaxyKit

final class SchemaTests: XCTestCase {
    /// The Kaggle schema is the tree galaxy has always used: GalaxyZooTree's figures come from it.
    func testKaggleSchemaIsTheGalaxyZooTree() {
        let s = AnswerSchema.kaggle
        XCTAssertEqual(s.answerCount, 37)
        XCTAssertEqual(s.questionRanges.map(\.count), [3, 2, 2, 2, 4, 2, 3, 7, 3, 3, 6])
        XCTAssertEqual(s.parentColumn.map { $0 ?? -1 }, [-1, 1, 4, 4, 4, -1, 0, 13, 3, 7, 7])
        XCTAssertEqual(s.scalingOrder, [1, 2, 3, 4, 6, 7, 8, 9, 10])
        XCTAssertEqual(s.columnNames[5], "Class3.1")
        XCTAssertEqual(s.questionStarts, [0, 3, 5, 7, 9, 13, 15, 18, 25, 28, 31, 37])
        XCTAssertEqual(GalaxyZooTree.schema, s)
    }

    func testDecalsSchemas() {
        for s in [AnswerSchema.decalsDR5, AnswerSchema.decalsDR8] {
            XCTAssertEqual(s.questions.count, 10)
            XCTAssertEqual(s.answerCount, 34)
            XCTAssertEqual(s.questionRanges.map(\.count), [3, 2, 2, 3, 5, 3, 3, 3, 6, 4])
            XCTAssertEqual(s.columnNames.first, "smooth-or-featured_smooth")
            XCTAssertEqual(s.columnNames.last, "merging_merger")
            XCTAssertTrue(s.columnNames.contains("spiral-arm-count_more-than-4"))
            func parent(_ id: String) -> String? {
                s.parentColumn[s.questions.firstIndex { $0.id == id }!].map { s.columnNames[$0] }
            }
            XCTAssertNil(parent("smooth-or-featured"))
            XCTAssertNil(parent("merging"))
            XCTAssertEqual(parent("disk-edge-on"), "smooth-or-featured_featured-or-disk")
            for q in ["has-spiral-arms", "bar", "bulge-size"] { XCTAssertEqual(parent(q), "disk-edge-on_no") }
            XCTAssertEqual(parent("how-rounded"), "smooth-or-featured_smooth")
            XCTAssertEqual(parent("edge-on-bulge"), "disk-edge-on_yes")
            for q in ["spiral-winding", "spiral-arm-count"] { XCTAssertEqual(parent(q), "has-spiral-arms_yes") }
            // Every question with a parent comes after its parent's question in the scaling order.
            for (i, q) in s.scalingOrder.enumerated() {
                let pq = s.questionOfColumn[s.parentColumn[q]!]
                XCTAssertTrue(s.parentColumn[pq] == nil || s.scalingOrder[..<i].contains(pq), "\(s.questions[q].id) after its parent")
            }
        }
        XCTAssertEqual(AnswerSchema.detect(columns: AnswerSchema.decalsDR5.columnNames.reversed())?.name, "decals-dr5")
        XCTAssertEqual(AnswerSchema.detect(columns: GalaxyZooTree.columnNames)?.name, "kaggle")
        XCTAssertNil(AnswerSchema.detect(columns: ["a", "b"]))
    }

    func testJSONRoundTripAndFiles() throws {
        for s in AnswerSchema.builtIn {
            XCTAssertEqual(try AnswerSchema(json: Data(s.json.utf8), source: "metadata"), s)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("toy.json")
        try Data("""
        {"name": "toy", "questions": [
          {"id": "shape", "text": "Shape?", "answers": ["round", "disk"]},
          {"id": "arms", "answers": ["yes", "no", "maybe"], "after": "shape_disk"},
          {"id": "odd", "answers": ["a", "b"], "columns": ["Odd A", "Odd B"]}]}
        """.utf8).write(to: file)
        let toy = try AnswerSchema.resolve(file.path)
        XCTAssertEqual(toy.name, "toy")
        XCTAssertEqual(toy.columnNames, ["shape_round", "shape_disk", "arms_yes", "arms_no", "arms_maybe", "Odd A", "Odd B"])
        XCTAssertEqual(toy.parentColumn.map { $0 ?? -1 }, [-1, 1, -1])
        XCTAssertEqual(toy.questionTexts, ["Shape?", "arms", "odd"])
        XCTAssertEqual(try AnswerSchema.resolve("decals-dr8"), AnswerSchema.decalsDR8)
        XCTAssertThrowsError(try AnswerSchema.resolve(dir.appendingPathComponent("none.json").path)) {
            XCTAssertTrue("\($0)".contains("neither a built-in schema"), "\($0)")
        }
        XCTAssertEqual(try toy.columnIndices(in: ["Odd B", "shape_round", "shape_disk", "arms_yes", "arms_no", "arms_maybe", "Odd A", "x"], file: "f.csv"),
                       [1, 2, 3, 4, 5, 6, 0])
        XCTAssertThrowsError(try toy.columnIndices(in: ["shape_round", "shape_disk"], file: "f.csv")) {
            XCTAssertTrue("\($0)".contains("f.csv: the schema \"toy\" needs the column(s) \"arms_yes\""), "\($0)")
        }
    }

    /// Each broken schema is an error that names the file and what is wrong.
    func testBadSchemasAreClearErrors() {
        let cases: [(String, String)] = [
            (#"{"name": "x", "questions": [{"id": "a", "answers": ["y", "n"], "after": "b_y"}]}"#, #"question "a" is asked after "b_y", which is no question's answer column"#),
            (#"{"name": "x", "questions": [{"id": "a", "answers": ["y", "n"], "after": "b_y"}, {"id": "b", "answers": ["y", "n"], "after": "a_n"}]}"#,
             #"the questions form a cycle: "a" -> "b" -> "a""#),
            (#"{"name": "x", "questions": [{"id": "a", "answers": ["y", "n"], "after": "a_y"}]}"#, #"cycle: "a" -> "a""#),
            (#"{"name": "x", "questions": [{"id": "a", "answers": ["y", "n"], "columns": ["c", "c"]}]}"#, #"column "c" appears twice"#),
            (#"{"name": "x", "questions": [{"id": "a", "answers": ["y", "n"]}, {"id": "a", "answers": ["p", "q"]}]}"#, #"question "a" appears twice"#),
            (#"{"name": "x", "questions": [{"id": "a", "answers": ["y"]}]}"#, "has 1 answer(s)"),
            (#"{"name": "x", "questions": [{"id": "a", "answers": ["y", "n"], "columns": ["c"]}]}"#, "2 answers but 1 columns"),
            (#"{"name": "x", "questions": []}"#, "no questions"),
            (#"{"questions": []}"#, #"missing "name""#),
            (#"{"name": "x", "questions": [{"id": "a"}]}"#, #"missing "answers" at .questions[0]"#),
            ("not json", "invalid JSON"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try AnswerSchema(json: Data(text.utf8), source: "bad.json"), text) {
                XCTAssertTrue("\($0)".hasPrefix("bad.json"), "\($0)")
                XCTAssertTrue("\($0)".contains(expected), "expected \(expected) in: \($0)")
            }
        }
    }
}
