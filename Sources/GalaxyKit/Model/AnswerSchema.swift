import Foundation

/// A Galaxy Zoo decision tree as data: its questions, each question's answers (one CSV column each) and the
/// answer a question is asked after (none for the first question and for independent ones such as DECaLS'
/// merging). Built in: `kaggle` (the 2014 Kaggle challenge's GZ2 tree, 37 columns), `decals-dr5` and
/// `decals-dr8` (GZ DECaLS, 10 questions, 34 answers); any other comes from a JSON file
/// (docs/guide-counts.md describes the format).
///
/// The answers of a question occupy consecutive columns, in question order: question q owns
/// `questionRanges[q]`. A question asked after answer column c is reached by the volunteers who gave c.
public struct AnswerSchema: Sendable, Equatable {
    public struct Question: Sendable, Equatable {
        /// Short identifier, e.g. "smooth-or-featured".
        public var id: String
        /// Text for tables, e.g. "Smooth or featured?".
        public var text: String
        /// Human-readable answer names.
        public var answers: [String]
        /// The CSV column of each answer.
        public var columns: [String]
        /// The column of the answer this question is asked after (nil: asked of every volunteer).
        public var after: String?

        public init(id: String, text: String? = nil, answers: [String], columns: [String]? = nil, after: String? = nil) {
            self.id = id
            self.text = text ?? id
            self.answers = answers
            self.columns = columns ?? answers.map { "\(id)_\($0)" }
            self.after = after
        }
    }

    /// The name a checkpoint records and `--schema` takes (a built-in's, or the file's "name").
    public let name: String
    public let questions: [Question]

    // Derived, checked by init.
    public let columnNames: [String]
    public let questionRanges: [Range<Int>]
    /// Per question, the column of the answer it is asked after (nil: asked of everyone).
    public let parentColumn: [Int?]
    /// The questions that have a parent, every one after its parent's question.
    public let scalingOrder: [Int]
    public let questionOfColumn: [Int]

    public var answerCount: Int { columnNames.count }
    public var questionTexts: [String] { questions.map(\.text) }
    public var answerLabels: [String] { questions.flatMap(\.answers) }
    /// questionRanges as the start column of each question, then the column count (the shaders' layout).
    public var questionStarts: [Int] { questionRanges.map(\.lowerBound) + [answerCount] }

    /// Checks the tree: at least one question, two or more answers each, no duplicate question or column,
    /// every "after" an answer of another question, no cycle. `source` names the file in errors.
    public init(name: String, questions: [Question], source: String? = nil) throws {
        let origin = source ?? "schema \"\(name)\""
        func fail(_ what: String) -> SchemaError { SchemaError("\(origin): \(what)") }
        guard !questions.isEmpty else { throw fail("no questions") }
        var ids = Set<String>(), columnIndex: [String: Int] = [:]
        var columns: [String] = [], ranges: [Range<Int>] = [], ofColumn: [Int] = []
        for (q, question) in questions.enumerated() {
            guard !question.id.isEmpty else { throw fail("question \(q + 1) has no id") }
            guard ids.insert(question.id).inserted else { throw fail("question \"\(question.id)\" appears twice") }
            guard question.answers.count >= 2 else {
                throw fail("question \"\(question.id)\" has \(question.answers.count) answer(s); a question needs at least 2")
            }
            guard question.columns.count == question.answers.count else {
                throw fail("question \"\(question.id)\" has \(question.answers.count) answers but \(question.columns.count) columns")
            }
            let start = columns.count
            for column in question.columns {
                guard !column.isEmpty else { throw fail("question \"\(question.id)\" has an answer with an empty column name") }
                if let other = columnIndex[column] {
                    throw fail("column \"\(column)\" appears twice (question \"\(questions[ofColumn[other]].id)\" and question \"\(question.id)\")")
                }
                columnIndex[column] = columns.count
                columns.append(column)
                ofColumn.append(q)
            }
            ranges.append(start..<columns.count)
        }
        var parents: [Int?] = []
        for question in questions {
            guard let after = question.after else { parents.append(nil); continue }
            guard let c = columnIndex[after] else {
                throw fail("question \"\(question.id)\" is asked after \"\(after)\", which is no question's answer column")
            }
            parents.append(c)
        }
        // Each question has at most one parent question: following parents from any question must reach a root.
        for start in questions.indices {
            var seen: [Int] = [start], q = start
            while let c = parents[q] {
                q = ofColumn[c]
                if let loop = seen.firstIndex(of: q) {
                    let cycle = (seen[loop...] + [q]).map { "\"\(questions[$0].id)\"" }.joined(separator: " -> ")
                    throw fail("the questions form a cycle: \(cycle) (each is asked after an answer of the next)")
                }
                seen.append(q)
            }
        }
        // Parents before children, otherwise in question order.
        var placed = Set(questions.indices.filter { parents[$0] == nil }), order: [Int] = []
        while placed.count < questions.count {
            for q in questions.indices where !placed.contains(q) {
                if let c = parents[q], placed.contains(ofColumn[c]) { placed.insert(q); order.append(q) }
            }
        }
        self.name = name
        self.questions = questions
        self.columnNames = columns
        self.questionRanges = ranges
        self.parentColumn = parents
        self.scalingOrder = order
        self.questionOfColumn = ofColumn
    }

    /// The index of each of the schema's columns among `columns` (a CSV's header after GalaxyID);
    /// a column the header lacks is an error naming it and `file`.
    public func columnIndices(in columns: [String], file: String) throws -> [Int] {
        var where_: [String: Int] = [:]
        for (i, c) in columns.enumerated() { where_[c] = i }
        let missing = columnNames.filter { where_[$0] == nil }
        guard missing.isEmpty else {
            let shown = missing.prefix(5).map { "\"\($0)\"" }.joined(separator: ", ") + (missing.count > 5 ? " and \(missing.count - 5) more" : "")
            throw SchemaError("\(file): the schema \"\(name)\" needs the column(s) \(shown), which the header lacks")
        }
        return columnNames.map { where_[$0]! }
    }
}

/// A bad schema (file or name); the message says which and what is wrong.
public struct SchemaError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

// MARK: - Built-in schemas

extension AnswerSchema {
    /// The Kaggle Galaxy Challenge's GZ2 tree: 11 questions, 37 columns "Class1.1" ... "Class11.6"
    /// (see GalaxyZooTree for the walk).
    public static let kaggle: AnswerSchema = {
        let texts = ["Smooth, featured or star?", "Edge-on disc?", "Bar through the centre?", "Spiral arms?",
                     "Bulge prominence", "Anything odd?", "How rounded?", "Odd feature", "Bulge shape (edge-on)",
                     "Arm winding", "Number of arms"]
        let answers: [[String]] = [
            ["Smooth", "Featured or disc", "Star or artifact"],
            ["Edge on", "Not edge on"],
            ["Bar through center", "No bar"],
            ["Spiral", "No Spiral"],
            ["No bulge", "Just noticeable bulge", "Obvious bulge", "Dominant bulge"],
            ["Odd Feature", "No Odd Feature"],
            ["Completely round", "In between", "Cigar shaped"],
            ["Ring (Oddity)", "Lens or arc (Oddity)", "Disturbed (Oddity)", "Irregular (Oddity)",
             "Other (Oddity)", "Merger (Oddity)", "Dust lane (Oddity)"],
            ["Rounded bulge", "Boxy bulge", "No bulge"],
            ["Tightly wound arms", "Medium wound arms", "Loose wound arms"],
            ["1 Spiral Arm", "2 Spiral Arms", "3 Spiral Arms", "4 Spiral Arms", "More than four Spiral Arms", "Can't tell"],
        ]
        // Per question, the answer it follows as (question, answer), 1-based as in the Kaggle column names.
        let after: [(Int, Int)?] = [nil, (1, 2), (2, 2), (2, 2), (2, 2), nil, (1, 1), (6, 1), (2, 1), (4, 1), (4, 1)]
        let questions = answers.enumerated().map { q, names in
            Question(id: "Q\(q + 1)", text: texts[q], answers: names, columns: names.indices.map { "Class\(q + 1).\($0 + 1)" },
                     after: after[q].map { "Class\($0.0).\($0.1)" })
        }
        return try! AnswerSchema(name: "kaggle", questions: questions)
    }()

    /// GZ DECaLS (Walmsley et al. 2022), the tree of its DR5 campaign; the columns are `question_answer` as
    /// in the published volunteer catalogue (`smooth-or-featured_smooth`, ...).
    public static let decalsDR5: AnswerSchema = decals(name: "decals-dr5")

    /// GZ DECaLS' DR8 campaign asked the DR5 questions (strong/weak/no bar, five bulge sizes): the same tree
    /// and columns under its own name (docs/guide-counts.md says what this relies on).
    public static let decalsDR8: AnswerSchema = decals(name: "decals-dr8")

    private static func decals(name: String) -> AnswerSchema {
        let questions = [
            Question(id: "smooth-or-featured", text: "Smooth or featured?", answers: ["smooth", "featured-or-disk", "artifact"]),
            Question(id: "disk-edge-on", text: "Edge-on disk?", answers: ["yes", "no"], after: "smooth-or-featured_featured-or-disk"),
            Question(id: "has-spiral-arms", text: "Spiral arms?", answers: ["yes", "no"], after: "disk-edge-on_no"),
            Question(id: "bar", text: "Bar?", answers: ["strong", "weak", "no"], after: "disk-edge-on_no"),
            Question(id: "bulge-size", text: "Bulge size", answers: ["dominant", "large", "moderate", "small", "none"], after: "disk-edge-on_no"),
            Question(id: "how-rounded", text: "How rounded?", answers: ["round", "in-between", "cigar-shaped"], after: "smooth-or-featured_smooth"),
            Question(id: "edge-on-bulge", text: "Edge-on bulge shape", answers: ["boxy", "none", "rounded"], after: "disk-edge-on_yes"),
            Question(id: "spiral-winding", text: "Spiral winding", answers: ["tight", "medium", "loose"], after: "has-spiral-arms_yes"),
            Question(id: "spiral-arm-count", text: "Spiral arm count", answers: ["1", "2", "3", "4", "more-than-4", "cant-tell"], after: "has-spiral-arms_yes"),
            Question(id: "merging", text: "Merging?", answers: ["none", "minor-disturbance", "major-disturbance", "merger"]),
        ]
        return try! AnswerSchema(name: name, questions: questions)
    }

    /// The built-in schemas by the name `--schema` takes.
    public static let builtIn: [AnswerSchema] = [kaggle, decalsDR5, decalsDR8]

    /// A built-in schema by name, or one read from the JSON file at that path.
    public static func resolve(_ nameOrFile: String) throws -> AnswerSchema {
        if let s = builtIn.first(where: { $0.name == nameOrFile }) { return s }
        let url = URL(fileURLWithPath: nameOrFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw SchemaError("--schema \(nameOrFile): neither a built-in schema (\(builtIn.map(\.name).joined(separator: ", "))) nor a file")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw SchemaError("\(url.path): cannot read: \(error.localizedDescription)") }
        return try AnswerSchema(json: data, source: url.path)
    }

    /// The built-in schema whose columns are exactly `columns` (in any order), if any: a CSV that holds the
    /// Kaggle or DECaLS columns gets that schema without --schema. (DR5 before DR8: they share columns.)
    public static func detect(columns: [String]) -> AnswerSchema? {
        let set = Set(columns)
        return builtIn.first { Set($0.columnNames) == set && $0.answerCount == columns.count }
    }
}

// MARK: - The JSON form (schema files and checkpoint metadata)

extension AnswerSchema {
    private struct FileForm: Codable {
        struct Q: Codable {
            var id: String
            var text: String?
            var answers: [String]
            var columns: [String]?
            var after: String?
        }
        var name: String
        var questions: [Q]
    }

    /// Reads the JSON form: {"name": ..., "questions": [{"id", "text"?, "answers", "columns"?, "after"?}, ...]}.
    /// Columns default to "<id>_<answer>". `source` (the file's path) goes into errors.
    public init(json: Data, source: String) throws {
        let form: FileForm
        do { form = try JSONDecoder().decode(FileForm.self, from: json) } catch let error as DecodingError {
            throw SchemaError("\(source): not a schema: \(Self.describe(error))")
        }
        try self.init(name: form.name, questions: form.questions.map {
            Question(id: $0.id, text: $0.text, answers: $0.answers, columns: $0.columns, after: $0.after)
        }, source: source)
    }

    /// The JSON form, which `init(json:source:)` reads back to an equal schema (what checkpoints record).
    public var json: String {
        let form = FileForm(name: name, questions: questions.map { FileForm.Q(id: $0.id, text: $0.text, answers: $0.answers, columns: $0.columns, after: $0.after) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(form), as: UTF8.self)
    }

    /// The metadata key under which checkpoints record their schema (its JSON form).
    public static let metadataKey = "schema"

    /// The schema a checkpoint records; nil for one without (trained before schemas, or on other columns).
    public init?(metadata: [String: String], file: String) throws {
        guard let text = metadata[Self.metadataKey] else { return nil }
        try self.init(json: Data(text.utf8), source: "\(file) (its \"schema\" metadata)")
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let c): return "missing \"\(key.stringValue)\" at \(path(c.codingPath).isEmpty ? "the top level" : path(c.codingPath))"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "wrong type at \(path(c.codingPath)): \(c.debugDescription)"
        case .dataCorrupted(let c): return "invalid JSON\(c.codingPath.isEmpty ? "" : " at " + path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
