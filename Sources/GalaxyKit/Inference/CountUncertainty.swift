import Foundation

// What a Dirichlet (concentration) head says about one galaxy, and how honest it is over a data set: float64, on the
// host. Per question q with concentrations alpha_i (A = sum alpha_i) and N volunteers:
// - the share of q's volunteers who give answer i is p_i ~ Beta(alpha_i, A - alpha_i) (the Dirichlet's marginal):
//   expected alpha_i / A, and a 90% interval between its 5% and 95% quantiles;
// - the count k_i of N is Beta-binomial(N, alpha_i, A - alpha_i): its predictive 90% interval holds the observed
//   count in about 90% of galaxies when the uncertainty is honest (at least 90%: counts are whole numbers);
// - the expected share of *all* volunteers who give answer i is alpha_i / A times the expected share who reach q,
//   the product of the expected shares of the answers on the way (1 for a question asked of everyone).

public enum BetaDistribution {
    /// log B(a, b).
    public static func logBeta(_ a: Double, _ b: Double) -> Double { Reference.logGamma(a) + Reference.logGamma(b) - Reference.logGamma(a + b) }

    /// The regularized incomplete beta function I_x(a, b) (the Beta(a, b) CDF at x), by its continued fraction
    /// evaluated with the modified Lentz method, on the side of x where it converges fast.
    public static func cdf(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        if x > (a + 1) / (a + b + 2) { return 1 - cdf(1 - x, a: b, b: a) }
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var f = d
        for m in 1...500 {
            let m = Double(m)
            // The even step d_2m, then the odd step d_2m+1 of the continued fraction.
            for numerator in [m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)), -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))] {
                d = 1 + numerator * d
                if abs(d) < tiny { d = tiny }
                c = 1 + numerator / c
                if abs(c) < tiny { c = tiny }
                d = 1 / d
                f *= c * d
            }
            if abs(c * d - 1) < 1e-15 { break }
        }
        return exp(a * log(x) + b * log1p(-x) - logBeta(a, b)) * f / a
    }

    /// The p-quantile of Beta(a, b), by bisection on the CDF to 1e-12.
    public static func quantile(_ p: Double, a: Double, b: Double) -> Double {
        var (lo, hi) = (0.0, 1.0)
        while hi - lo > 1e-12 {
            let mid = (lo + hi) / 2
            if cdf(mid, a: a, b: b) < p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// P(k of n) under Beta-binomial(n, a, b), k = 0 ... n.
    public static func betaBinomial(n: Int, a: Double, b: Double) -> [Double] {
        let nn = Double(n), prior = logBeta(a, b), logN = Reference.logGamma(nn + 1)
        return (0...n).map { (i: Int) -> Double in
            let k = Double(i)
            let choose: Double = logN - Reference.logGamma(k + 1) - Reference.logGamma(nn - k + 1)
            return exp(choose + logBeta(k + a, nn - k + b) - prior)
        }
    }

    /// The central predictive interval [lo, hi] of a Beta-binomial holding at least `level` of its mass: lo the
    /// largest count with P(k < lo) <= (1 - level) / 2, hi the smallest with P(k > hi) <= (1 - level) / 2.
    public static func countInterval(n: Int, a: Double, b: Double, level: Double = 0.9) -> ClosedRange<Int> {
        let pmf = betaBinomial(n: n, a: a, b: b), tail = (1 - level) / 2
        var lo = 0, below = 0.0
        while lo < n && below + pmf[lo] <= tail { below += pmf[lo]; lo += 1 }
        var hi = n, above = 0.0
        while hi > lo && above + pmf[hi] <= tail { above += pmf[hi]; hi -= 1 }
        return lo...hi
    }
}

/// One galaxy's answers from its concentrations (AnswerSchema's columns).
public struct ConcentrationAnswers: Sendable {
    public let schema: AnswerSchema
    public let concentrations: [Double]
    /// Per answer, the expected share of its question's volunteers (alpha_i / A).
    public let expectedShare: [Double]
    /// Per answer, the 90% interval of that share (the Beta marginal's 5% and 95% quantiles).
    public let interval: [ClosedRange<Double>]
    /// Per answer, the expected share of all volunteers who give it, along the tree.
    public let expectedFraction: [Double]

    public init(schema: AnswerSchema, concentrations: [Double]) {
        precondition(concentrations.count == schema.answerCount)
        self.schema = schema
        self.concentrations = concentrations
        var interval = [ClosedRange<Double>](repeating: 0...0, count: concentrations.count)
        for range in schema.questionRanges {
            let total = range.reduce(0.0) { $0 + concentrations[$1] }
            for c in range {
                let (a, b) = (concentrations[c], total - concentrations[c])
                interval[c] = BetaDistribution.quantile(0.05, a: a, b: b)...BetaDistribution.quantile(0.95, a: a, b: b)
            }
        }
        self.interval = interval
        (expectedShare, expectedFraction) = Self.expected(schema: schema, concentrations: concentrations)
    }

    /// Per answer, the expected share of its question's volunteers and of all volunteers (without the intervals).
    public static func expected<C: RandomAccessCollection>(schema: AnswerSchema, concentrations: C) -> (share: [Double], fraction: [Double])
        where C.Element: BinaryFloatingPoint, C.Index == Int {
        let alpha = concentrations.map { Double($0) }
        var share = [Double](repeating: 0, count: alpha.count)
        for range in schema.questionRanges {
            let total = range.reduce(0.0) { $0 + alpha[$1] }
            for c in range { share[c] = alpha[c] / total }
        }
        var fraction = share
        // Roots first, then every question after its parent's (scalingOrder).
        for q in schema.scalingOrder {
            let parent = schema.parentColumn[q]!
            for c in schema.questionRanges[q] { fraction[c] = share[c] * fraction[parent] }
        }
        return (share, fraction)
    }

    /// Rows of concentrations ([rows, answers]) to rows of expected shares of all volunteers, the fractions a
    /// Kaggle-style file holds (galaxy submit, the report).
    public static func expectedFractions(schema: AnswerSchema, rows: [Float]) -> [Float] {
        let k = schema.answerCount
        return stride(from: 0, to: rows.count, by: k).flatMap { expected(schema: schema, concentrations: rows[$0..<($0 + k)]).fraction.map(Float.init) }
    }

    /// Rows of counts to the observed shares of all volunteers: each count over the votes on the first question
    /// (asked of everyone); a galaxy without votes gives zeros.
    public static func observedFractions(schema: AnswerSchema, counts: [Float]) -> [Float] {
        let k = schema.answerCount, first = schema.questionRanges[0]
        return stride(from: 0, to: counts.count, by: k).flatMap { base -> [Float] in
            let n = first.reduce(Float(0)) { $0 + counts[base + $1] }
            return (0..<k).map { n > 0 ? counts[base + $0] / n : 0 }
        }
    }

    /// A table per question: each answer's expected share of the question's volunteers with its 90% interval, the
    /// expected share of all volunteers, and the observed counts when known.
    public func render(observed: [Float]? = nil) -> String {
        var lines: [String] = []
        for (q, question) in schema.questions.enumerated() {
            let range = schema.questionRanges[q]
            let votes = observed.map { o in range.reduce(0.0) { $0 + Double(o[$1]) } }
            lines.append("\(question.text)" + (schema.parentColumn[q].map { "  (after \(schema.columnNames[$0]))" } ?? "")
                         + (votes.map { "  observed: \(Int($0)) votes" } ?? ""))
            for (i, c) in range.enumerated() {
                var line = "  " + question.answers[i].padding(toLength: 26, withPad: " ", startingAt: 0)
                    + String(format: "%5.3f [%5.3f, %5.3f]   of all %5.3f   alpha %6.2f", expectedShare[c], interval[c].lowerBound, interval[c].upperBound,
                             expectedFraction[c], concentrations[c])
                if let observed { line += String(format: "   observed %d", Int(observed[c])) }
                lines.append(line)
            }
        }
        return "answer                      share [90% interval]  of all     concentration\n" + lines.joined(separator: "\n")
    }
}

/// How a Dirichlet head does on a data set's counts, per question: the mean NLL beside a constant baseline's, the
/// RMSE of the expected shares against the observed ones, and the coverage of the predictive 90% count intervals.
public struct CountEvaluation: Sendable {
    public struct Question: Sendable {
        public var id: String
        /// Galaxies with at least one vote on the question.
        public var galaxies: Int
        public var nll: Double
        public var baselineNLL: Double
        public var rmse: Double
        public var baselineRMSE: Double
        /// Share of (galaxy, answer) pairs whose observed count lies in the predictive 90% interval.
        public var coverage: Double
        public var baselineCoverage: Double
    }
    public var questions: [Question]
    /// NLL summed over the questions, per galaxy.
    public var nll: Double
    public var baselineNLL: Double

    /// `alpha(r)`: the model's concentrations of row r; `baseline`: the constant concentrations; `counts` [*, width].
    public static func evaluate(schema: AnswerSchema, counts: [Float], rows: [Int], baseline: [Double], alpha: (Int) -> [Double]) -> CountEvaluation {
        let width = schema.answerCount
        var out: [Question] = []
        let model = rows.map(alpha)
        for (q, range) in schema.questionRanges.enumerated() {
            var s = Question(id: schema.questions[q].id, galaxies: 0, nll: 0, baselineNLL: 0, rmse: 0, baselineRMSE: 0, coverage: 0, baselineCoverage: 0)
            var pairs = 0, covered = 0, baseCovered = 0, squares = 0.0, baseSquares = 0.0
            for (j, r) in rows.enumerated() {
                let k = range.map { Double(counts[r * width + $0]) }, n = k.reduce(0, +)
                guard n > 0 else { continue }
                s.galaxies += 1
                for (which, al) in [(0, model[j]), (1, baseline)] {
                    let a = range.map { al[$0] }, total = a.reduce(0, +)
                    let nll = Reference.dirichletMultinomialNLL(counts: k[...], alpha: a[...])
                    var inside = 0, sq = 0.0
                    for i in a.indices {
                        if BetaDistribution.countInterval(n: Int(n), a: a[i], b: total - a[i]).contains(Int(k[i])) { inside += 1 }
                        sq += (a[i] / total - k[i] / n) * (a[i] / total - k[i] / n)
                    }
                    if which == 0 { s.nll += nll; covered += inside; squares += sq } else { s.baselineNLL += nll; baseCovered += inside; baseSquares += sq }
                }
                pairs += range.count
            }
            if s.galaxies > 0 {
                s.nll /= Double(s.galaxies)
                s.baselineNLL /= Double(s.galaxies)
                s.rmse = (squares / Double(pairs)).squareRoot()
                s.baselineRMSE = (baseSquares / Double(pairs)).squareRoot()
                s.coverage = Double(covered) / Double(pairs)
                s.baselineCoverage = Double(baseCovered) / Double(pairs)
            }
            out.append(s)
        }
        let perGalaxy = { (pick: (Question) -> Double) in out.reduce(0.0) { $0 + pick($1) * Double($1.galaxies) } / Double(max(rows.count, 1)) }
        return CountEvaluation(questions: out, nll: perGalaxy(\.nll), baselineNLL: perGalaxy(\.baselineNLL))
    }

    /// The per-question table `galaxy eval` prints.
    public func render() -> String {
        var lines = [String(format: "NLL per galaxy %.4f   constant-concentration baseline %.4f", nll, baselineNLL),
                     "question             galaxies   NLL      baseline   RMSE     baseline   90% coverage  baseline"]
        for q in questions {
            lines.append(q.id.padding(toLength: 20, withPad: " ", startingAt: 0)
                         + String(format: " %8d   %-8.4f %-8.4f   %-8.5f %-8.5f   %5.1f%%        %5.1f%%", q.galaxies, q.nll, q.baselineNLL, q.rmse,
                                  q.baselineRMSE, 100 * q.coverage, 100 * q.baselineCoverage))
        }
        return lines.joined(separator: "\n")
    }
}
