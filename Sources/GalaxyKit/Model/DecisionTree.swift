/// The Galaxy Zoo 2 decision tree as used by the Kaggle "Galaxy Challenge": 11 questions whose
/// 37 answers are the columns of `training_solutions_rev1.csv`.
///
/// A volunteer starts at Q1 and walks down; every answer column holds the fraction of *all*
/// volunteers who gave that answer, so the answers of a question sum to the fraction that reached
/// it, which is the value of the answer column that led there (`parentColumn`). Q1 and Q6 are
/// reached by everybody in the Kaggle data and sum to 1.
///
/// ```
/// Q1 smooth -> Q7 -> Q6      Q1 featured -> Q2      Q1 star/artifact -> Q6
/// Q2 edge-on -> Q9 -> Q6     Q2 not edge-on -> Q3 -> Q4
/// Q4 spiral -> Q10 -> Q11 -> Q5     Q4 no spiral -> Q5 -> Q6
/// Q6 odd -> Q8 (end)          Q6 not odd (end)
/// ```
public enum GalaxyZooTree {
    /// Number of answer columns.
    public static let answerCount = 37

    /// The column range of each question, 0-based, Q1 first.
    public static let questionRanges: [Range<Int>] = [
        0..<3, 3..<5, 5..<7, 7..<9, 9..<13, 13..<15, 15..<18, 18..<25, 25..<28, 28..<31, 31..<37,
    ]

    /// Kaggle column names, "Class1.1" ... "Class11.6".
    public static let columnNames: [String] = questionRanges.enumerated().flatMap { q, range in
        (1...range.count).map { "Class\(q + 1).\($0)" }
    }

    /// The question each answer column belongs to (0-based).
    public static let questionOfColumn: [Int] = questionRanges.enumerated().flatMap { q, range in
        Array(repeating: q, count: range.count)
    }

    /// Short text of each question, for tables.
    public static let questionTexts: [String] = [
        "Smooth, featured or star?", "Edge-on disc?", "Bar through the centre?", "Spiral arms?",
        "Bulge prominence", "Anything odd?", "How rounded?", "Odd feature", "Bulge shape (edge-on)",
        "Arm winding", "Number of arms",
    ]

    /// Human-readable answer names in column order (the seed's `groups` list, flattened).
    public static let answerLabels: [String] = [
        "Smooth", "Featured or disc", "Star or artifact",
        "Edge on", "Not edge on",
        "Bar through center", "No bar",
        "Spiral", "No Spiral",
        "No bulge", "Just noticeable bulge", "Obvious bulge", "Dominant bulge",
        "Odd Feature", "No Odd Feature",
        "Completely round", "In between", "Cigar shaped",
        "Ring (Oddity)", "Lens or arc (Oddity)", "Disturbed (Oddity)", "Irregular (Oddity)",
        "Other (Oddity)", "Merger (Oddity)", "Dust lane (Oddity)",
        "Rounded bulge", "Boxy bulge", "No bulge",
        "Tightly wound arms", "Medium wound arms", "Loose wound arms",
        "1 Spiral Arm", "2 Spiral Arms", "3 Spiral Arms", "4 Spiral Arms", "More than four Spiral Arms", "Can't tell",
    ]

    /// Per question, the answer column whose value the question's answers sum to; nil means 1.
    public static let parentColumn: [Int?] = [nil, 1, 4, 4, 4, nil, 0, 13, 3, 7, 7]

    /// The order in which a constrained output layer can scale the questions so that every parent
    /// is final before its children use it (Dieleman): Q2, Q3, Q4, Q5, Q7, Q8, Q9, Q10, Q11.
    public static let scalingOrder: [Int] = [1, 2, 3, 4, 6, 7, 8, 9, 10]

    /// The largest |sum of a question's answers - its parent's value| over the 11 questions of one
    /// row of 37 values. Zero for a row that obeys the tree exactly.
    public static func treeSumViolation(_ row: ArraySlice<Float>) -> Float {
        precondition(row.count == answerCount, "treeSumViolation: \(row.count) values, expected \(answerCount)")
        let base = row.startIndex
        var worst: Float = 0
        for (q, range) in questionRanges.enumerated() {
            var sum: Float = 0
            for c in range { sum += row[base + c] }
            let target: Float = parentColumn[q].map { row[base + $0] } ?? 1
            worst = max(worst, abs(sum - target))
        }
        return worst
    }

    /// How many (row, question) pairs of `rows` ([count, 37]) have every answer exactly 0: questions
    /// the relu form of the constrained layer has let die on that image.
    public static func allZeroQuestions(_ rows: [Float]) -> Int {
        precondition(rows.count % answerCount == 0, "allZeroQuestions: \(rows.count) values")
        var dead = 0
        for base in stride(from: 0, to: rows.count, by: answerCount) {
            for range in questionRanges where range.allSatisfy({ rows[base + $0] == 0 }) { dead += 1 }
        }
        return dead
    }

    /// Convenience overload for a whole array.
    public static func treeSumViolation(_ row: [Float]) -> Float { treeSumViolation(row[...]) }
}
