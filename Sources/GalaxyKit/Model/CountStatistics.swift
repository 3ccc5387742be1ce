import Foundation

/// Statistics of vote counts under Dirichlet concentrations (the Dirichlet head's figures on the host, float64):
/// the constant-concentration baseline a trained head must beat, and the mean negative log-likelihood.
public enum CountStatistics {
    /// Per answer column, the constant concentrations that maximize the Dirichlet-multinomial likelihood of
    /// `rows`' counts ([*, width] in `counts`), each question on its own, kept in the head's range [1, 100]:
    /// Minka's fixed-point iteration for the Polya distribution, alpha_k <- alpha_k * sum_i [psi(n_ik + alpha_k) -
    /// psi(alpha_k)] / sum_i [psi(N_i + A) - psi(A)] over the rows with votes, from alpha = 2.
    public static func constantConcentrations(counts: [Float], width: Int, rows: [Int], questionStarts: [Int], iterations: Int = 100) -> [Double] {
        let lo = Reference.concentrationFloor, hi = Reference.concentrationFloor + Reference.concentrationSpan
        var alpha = [Double](repeating: 2, count: width)
        for q in 0..<(questionStarts.count - 1) {
            let cols = questionStarts[q]..<questionStarts[q + 1]
            let voted = rows.filter { r in cols.contains { counts[r * width + $0] > 0 } }
            guard !voted.isEmpty else { continue }
            for _ in 0..<iterations {
                let a = cols.reduce(0.0) { $0 + alpha[$1] }
                var denominator = 0.0
                for r in voted {
                    let n = cols.reduce(0.0) { $0 + Double(counts[r * width + $1]) }
                    denominator += Reference.digamma(n + a) - Reference.digamma(a)
                }
                var next = alpha
                for c in cols {
                    var numerator = 0.0
                    for r in voted where counts[r * width + c] > 0 {
                        numerator += Reference.digamma(Double(counts[r * width + c]) + alpha[c]) - Reference.digamma(alpha[c])
                    }
                    next[c] = min(hi, max(lo, alpha[c] * numerator / denominator))
                }
                alpha = next
            }
        }
        return alpha
    }

    /// The Dirichlet-multinomial NLL of each question summed, averaged over `rows`; `alpha(r)` gives row r's
    /// concentrations ([width]).
    public static func meanNLL(counts: [Float], width: Int, rows: [Int], questionStarts: [Int], alpha: (Int) -> [Double]) -> Double {
        guard !rows.isEmpty else { return 0 }
        var total = 0.0
        for r in rows {
            let al = alpha(r), k = counts[(r * width)..<((r + 1) * width)].map(Double.init)
            for q in 0..<(questionStarts.count - 1) {
                let cols = questionStarts[q]..<questionStarts[q + 1]
                total += Reference.dirichletMultinomialNLL(counts: k[cols], alpha: al[cols])
            }
        }
        return total / Double(rows.count)
    }

    /// fc3 biases whose concentrations are `alpha` when the layer below adds nothing: z = logit((alpha - 1) / 99),
    /// kept 1e-3 inside the sigmoid's range.
    public static func bias(for alpha: [Double]) -> [Float] {
        alpha.map { a in
            let y = min(1 - 1e-3, max(1e-3, (a - Reference.concentrationFloor) / Reference.concentrationSpan))
            return Float(log(y / (1 - y)))
        }
    }
}

extension GalaxyDataset {
    /// The data set with its target columns in `schema`'s order (only those); a column the data lacks is an
    /// error naming `file`.
    public func selecting(_ schema: AnswerSchema, file: String) throws -> GalaxyDataset {
        if columns == schema.columnNames { return self }
        let index = try schema.columnIndices(in: columns, file: file)
        let k = columns.count
        var targets: [Float] = []
        targets.reserveCapacity(count * index.count)
        for r in 0..<count { for c in index { targets.append(self.targets[r * k + c]) } }
        return GalaxyDataset(columns: schema.columnNames, ids: ids, targets: targets, images: images)
    }
}
