/// The Galaxy Zoo 2 decision tree as used by the Kaggle "Galaxy Challenge": 11 questions whose
/// 37 answers are the columns of `training_solutions_rev1.csv`. It is one schema among others
/// (`AnswerSchema.kaggle`); what stays Kaggle's own is below: the names of its parts, which the synthetic
/// Kaggle writer, the submission format and the tests of the seed's behaviour use.
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

    /// `AnswerSchema.treeSumViolation` in the Kaggle tree.
    public static func treeSumViolation(_ row: ArraySlice<Float>) -> Float { schema.treeSumViolation(row) }
    public static func treeSumViolation(_ row: [Float]) -> Float { schema.treeSumViolation(row[...]) }

    /// `AnswerSchema.allZeroQuestions` in the Kaggle tree.
    public static func allZeroQuestions(_ rows: [Float]) -> Int { schema.allZeroQuestions(rows) }
}

// MARK: - Any schema's tree, as the output layer, the tables and the report use it

extension AnswerSchema {
    /// The largest |sum of a question's answers - its parent answer's value| (1 for a question asked of
    /// everyone) over the questions of one row of fractions of all volunteers. Zero for a row that obeys the tree.
    public func treeSumViolation(_ row: ArraySlice<Float>) -> Float {
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

    /// How many (row, question) pairs of `rows` ([count, answerCount]) have every answer exactly 0: questions
    /// the relu form of the constrained layer has let die on that image.
    public func allZeroQuestions(_ rows: [Float]) -> Int {
        precondition(rows.count % answerCount == 0, "allZeroQuestions: \(rows.count) values")
        var dead = 0
        for base in stride(from: 0, to: rows.count, by: answerCount) {
            for range in questionRanges where range.allSatisfy({ rows[base + $0] == 0 }) { dead += 1 }
        }
        return dead
    }

    /// Every question, each after the question of the answer it is asked after: the smallest such order, so
    /// 0, 1, 2, ... wherever the questions already come in that order (Kaggle's and DECaLS' do). The
    /// constrained output layer scales in this order and undoes the scalings in reverse.
    public var treeOrder: [Int] {
        var order: [Int] = [], placed = [Bool](repeating: false, count: questions.count)
        while order.count < questions.count {
            let q = questions.indices.first { !placed[$0] && parentColumn[$0].map { placed[questionOfColumn[$0]] } ?? true }!
            placed[q] = true
            order.append(q)
        }
        return order
    }

    /// The tree of a model's `outputs`: `recorded` (the checkpoint's or run's schema) if any, else the built-in
    /// schema whose columns `columns` are, else, for the 37 outputs of weights that name no columns (the PyTorch
    /// seed's, and checkpoints from before columns were recorded), the Kaggle tree they were trained on; nil
    /// when none fits (a model of other columns: plain outputs, no tree).
    public static func implied(outputs: Int, columns: [String]?, recorded: AnswerSchema?) -> AnswerSchema? {
        if let recorded { return recorded.answerCount == outputs ? recorded : nil }
        if let columns { return detect(columns: columns).flatMap { $0.columnNames == columns ? $0 : nil } }
        return outputs == kaggle.answerCount ? kaggle : nil
    }

    /// The tree of a checkpoint's `outputs` from its metadata (`implied`), or an error naming `file` when its
    /// recorded schema does not have that many answers.
    public static func implied(metadata: [String: String], outputs: Int, file: String) throws -> AnswerSchema? {
        let recorded = try AnswerSchema(metadata: metadata, file: file)
        if let recorded, recorded.answerCount != outputs {
            throw SchemaError("\(file): its schema \"\(recorded.name)\" has \(recorded.answerCount) answers, its weights \(outputs) outputs")
        }
        return implied(outputs: outputs, columns: metadata["columns"].map { $0.split(separator: ",").map(String.init) }, recorded: recorded)
    }

    /// A checkpoint's column names: its schema's, else the ones its metadata lists, else `output1` ... `outputK`.
    public static func columns(metadata: [String: String], outputs: Int, file: String) throws -> [String] {
        if let schema = try implied(metadata: metadata, outputs: outputs, file: file) { return schema.columnNames }
        if let listed = metadata["columns"] {
            let columns = listed.split(separator: ",").map(String.init)
            guard columns.count == outputs else { throw SchemaError("\(file): its metadata names \(columns.count) columns for \(outputs) outputs") }
            return columns
        }
        return (1...max(outputs, 1)).map { "output\($0)" }
    }
}
