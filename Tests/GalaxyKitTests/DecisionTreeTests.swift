import XCTest
@testable import GalaxyKit

final class DecisionTreeTests: XCTestCase {
    func testColumnsAndRanges() {
        let t = GalaxyZooTree.self
        XCTAssertEqual(t.questionRanges.count, 11)
        XCTAssertEqual(t.questionRanges.first?.lowerBound, 0)
        XCTAssertEqual(t.questionRanges.last?.upperBound, 37)
        // Contiguous: each question starts where the previous ended.
        for q in 1..<11 { XCTAssertEqual(t.questionRanges[q].lowerBound, t.questionRanges[q - 1].upperBound) }
        XCTAssertEqual(t.questionRanges.map(\.count), [3, 2, 2, 2, 4, 2, 3, 7, 3, 3, 6])
        XCTAssertEqual(t.columnNames.count, 37)
        XCTAssertEqual(t.columnNames.first, "Class1.1")
        XCTAssertEqual(t.columnNames[3], "Class2.1")
        XCTAssertEqual(t.columnNames[24], "Class8.7")
        XCTAssertEqual(t.columnNames.last, "Class11.6")
        XCTAssertEqual(Set(t.columnNames).count, 37)
        XCTAssertEqual(t.answerLabels.count, 37)
        XCTAssertEqual(t.answerLabels[1], "Featured or disc")
        XCTAssertEqual(t.answerLabels[13], "Odd Feature")
        XCTAssertEqual(t.answerLabels[27], "No bulge")
        XCTAssertEqual(t.answerLabels[36], "Can't tell")
        XCTAssertEqual(t.questionOfColumn[17], 6)
        XCTAssertEqual(t.parentColumn.count, 11)
        XCTAssertEqual(t.parentColumn.map { $0 ?? -1 }, [-1, 1, 4, 4, 4, -1, 0, 13, 3, 7, 7])
    }

    /// A hand-built row that follows the tree exactly, and the same row broken in one place.
    func testViolation() {
        var row = [Float](repeating: 0, count: 37)
        // Q1: 0.25 smooth, 0.5 featured, 0.25 star.
        row[0] = 0.25; row[1] = 0.5; row[2] = 0.25
        row[3] = 0.125; row[4] = 0.375              // Q2 sums to C1.2
        row[5] = 0.125; row[6] = 0.25               // Q3 = C2.2
        row[7] = 0.25; row[8] = 0.125               // Q4 = C2.2
        row[9] = 0.375                               // Q5 = C2.2
        row[13] = 0.5; row[14] = 0.5                 // Q6 = 1
        row[15] = 0.25                               // Q7 = C1.1
        row[18] = 0.25; row[22] = 0.25               // Q8 = C6.1
        row[25] = 0.125                              // Q9 = C2.1
        row[28] = 0.25                               // Q10 = C4.1
        row[32] = 0.125; row[36] = 0.125             // Q11 = C4.1
        // All values are dyadic, so the sums are exact in Float.
        XCTAssertEqual(GalaxyZooTree.treeSumViolation(row), 0)
        var broken = row
        broken[33] = 0.1
        XCTAssertEqual(GalaxyZooTree.treeSumViolation(broken), 0.1, accuracy: 1e-6)  // only Q11 is off, by 0.1
        // Changing a parent breaks its children: C4.1 + 0.25 leaves Q10 and Q11 0.25 short, Q4 0.25 over.
        broken = row
        broken[7] += 0.25
        XCTAssertEqual(GalaxyZooTree.treeSumViolation(broken), 0.25, accuracy: 1e-6)
        // Works on a slice of a longer buffer (rows of a batch).
        let batch = [Float](repeating: 9, count: 5) + row
        XCTAssertEqual(GalaxyZooTree.treeSumViolation(batch[5...]), 0)
    }

    func testAllZeroQuestionsCountsEveryQuestionWhoseAnswersAreAllZero() {
        var rows = [Float](repeating: 0.1, count: 2 * 37)
        XCTAssertEqual(GalaxyZooTree.allZeroQuestions(rows), 0)
        for c in 15..<18 { rows[c] = 0 }           // row 0, Q7
        rows[37 + 28] = 0; rows[37 + 29] = 0        // row 1, Q10 partly: still answered
        XCTAssertEqual(GalaxyZooTree.allZeroQuestions(rows), 1)
        rows[37 + 30] = 0                           // row 1, Q10 now all zero
        XCTAssertEqual(GalaxyZooTree.allZeroQuestions(rows), 2)
        XCTAssertEqual(GalaxyZooTree.allZeroQuestions([Float](repeating: 0, count: 37)), 11)
    }
}
