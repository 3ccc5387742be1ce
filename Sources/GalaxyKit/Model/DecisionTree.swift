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
    /// The tree as a schema (`AnswerSchema.kaggle`); the members below are its parts.
    public static let schema = AnswerSchema.kaggle

    /// Number of answer columns.
    public static let answerCount = schema.answerCount

    /// The column range of each question, 0-based, Q1 first.
    public static let questionRanges: [Range<Int>] = schema.questionRanges

    /// Kaggle column names, "Class1.1" ... "Class11.6".
    public static let columnNames: [String] = schema.columnNames

    /// The question each answer column belongs to (0-based).
    public static let questionOfColumn: [Int] = schema.questionOfColumn

    /// Short text of each question, for tables.
    public static let questionTexts: [String] = schema.questionTexts

    /// Human-readable answer names in column order (the seed's `groups` list, flattened).
    public static let answerLabels: [String] = schema.answerLabels

    /// Per question, the answer column whose value the question's answers sum to; nil means 1.
    public static let parentColumn: [Int?] = schema.parentColumn

    /// The order in which a constrained output layer can scale the questions so that every parent
    /// is final before its children use it (Dieleman): Q2, Q3, Q4, Q5, Q7, Q8, Q9, Q10, Q11.
    public static let scalingOrder: [Int] = schema.scalingOrder

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
