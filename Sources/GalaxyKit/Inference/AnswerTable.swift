import Foundation

/// The seed's human-readable answer table: for each question of the model's decision tree, the most likely
/// answer with its value, beside the true answer when the label is known.
public enum AnswerTable {
    /// How the table names answer column `c` of `tree`. The Kaggle tree's answer names are the seed's labels,
    /// which say their question themselves ("Bar through center", "No Spiral"), and the seed's table shows them
    /// as they are; other trees' answers are short ("yes", "strong") and shown after their question's id.
    public static func label(_ tree: AnswerSchema, _ c: Int) -> String {
        let q = tree.questionOfColumn[c], answer = tree.answerLabels[c]
        return tree == .kaggle ? answer : "\(tree.questions[q].id): \(answer)"
    }

    /// Best answer (label, value) of each question of `tree` for one row of its answers.
    public static func bestAnswers(_ row: [Float], tree: AnswerSchema) -> [(label: String, value: Float)] {
        precondition(row.count == tree.answerCount, "AnswerTable: \(row.count) values for the \(tree.answerCount) answers of \(tree.name)")
        return tree.questionRanges.map { range in
            // The first maximum, like pandas' idxmax.
            var best = range.lowerBound
            for c in range where row[c] > row[best] { best = c }
            return (label(tree, best), row[best])
        }
    }

    public static func render(prediction: [Float], truth: [Float]?, tree: AnswerSchema) -> String {
        let rule = "------|----------------------|----------------------|------"
        var lines = [rule, " prob |      meaning (exact) | meaning (pred)       | prob", rule]
        let pred = bestAnswers(prediction, tree: tree)
        let exact = truth.map { bestAnswers($0, tree: tree) }
        for q in pred.indices {
            let left: String
            if let e = exact?[q] {
                left = String(format: "%.3f", e.value) + " " + String(repeating: " ", count: max(0, 22 - e.label.count)) + e.label
            } else {
                left = "    -" + String(repeating: " ", count: 19) + "?"
            }
            let p = pred[q]
            lines.append(left + " | " + p.label + String(repeating: " ", count: max(0, 22 - p.label.count)) + " " + String(format: "%.3f", p.value))
        }
        return lines.joined(separator: "\n")
    }
}
