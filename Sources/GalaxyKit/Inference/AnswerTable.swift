import Foundation

/// The seed's human-readable answer table: for each of the 11 Galaxy Zoo questions, the most likely
/// answer with its probability, beside the true answer when the label is known.
public enum AnswerTable {
    /// Best answer (label, value) of each question for a 37-value row.
    public static func bestAnswers(_ row: [Float]) -> [(label: String, value: Float)] {
        GalaxyZooTree.questionRanges.map { range in
            // The first maximum, like pandas' idxmax.
            var best = range.lowerBound
            for c in range where row[c] > row[best] { best = c }
            return (GalaxyZooTree.answerLabels[best], row[best])
        }
    }

    public static func render(prediction: [Float], truth: [Float]?) -> String {
        let rule = "------|----------------------|----------------------|------"
        var lines = [rule, " prob |      meaning (exact) | meaning (pred)       | prob", rule]
        let pred = bestAnswers(prediction)
        let exact = truth.map(bestAnswers)
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
