import Foundation
import XCTest
@testable import GalaxyKit

final class CountUncertaintyTests: XCTestCase {
    /// The Beta CDF against Simpson's rule on the density (40000 intervals: its error, h^4/180 max|f''''|, is below
    /// 1e-10 for these shapes, whose densities are smooth on [0, 1]), against the recurrence I_x(a + 1, b) = I_x(a, b)
    /// - x^a (1 - x)^b / (a B(a, b)) where a < 2 makes the density's derivative infinite at 0, and the quantile
    /// against the CDF.
    func testBetaCDFAndQuantile() {
        for (a, b) in [(1.5, 98.0), (1.2, 1.7)] {
            for x in [0.001, 0.02, 0.3, 0.9] {
                let step = exp(a * log(x) + b * log1p(-x) - BetaDistribution.logBeta(a, b)) / a
                XCTAssertEqual(BetaDistribution.cdf(x, a: a + 1, b: b), BetaDistribution.cdf(x, a: a, b: b) - step, accuracy: 1e-13, "recurrence at \(x), (\(a), \(b))")
            }
        }
        for (a, b) in [(1.0, 1.0), (2.0, 5.0), (30.0, 70.0), (3.0, 98.0), (60.0, 3.0)] {
            let n = 40_000, h = 1.0 / Double(n)
            func density(_ x: Double) -> Double {
                x <= 0 || x >= 1 ? (x <= 0 ? (a == 1 ? b : 0) : (b == 1 ? a : 0)) : exp((a - 1) * log(x) + (b - 1) * log1p(-x) - BetaDistribution.logBeta(a, b))
            }
            var integral = 0.0
            for i in 0..<n {
                let x0 = Double(i) * h
                integral += h / 6 * (density(x0) + 4 * density(x0 + h / 2) + density(x0 + h))
                if (i + 1) % 8000 == 0 {
                    XCTAssertEqual(BetaDistribution.cdf(x0 + h, a: a, b: b), integral, accuracy: 1e-9, "I_\(x0 + h)(\(a), \(b))")
                }
            }
            for p in [0.05, 0.5, 0.95] {
                XCTAssertEqual(BetaDistribution.cdf(BetaDistribution.quantile(p, a: a, b: b), a: a, b: b), p, accuracy: 1e-10)
            }
        }
    }

    /// A 2-answer Dirichlet-multinomial is a Beta-binomial: the pmf is exp(-NLL) of the loss's reference, sums to 1,
    /// and the 90% count interval holds at least 90% of it with each tail at most 5%.
    func testBetaBinomialAndItsInterval() {
        for (n, a, b) in [(5, 2.0, 3.0), (40, 1.0, 99.0), (60, 30.0, 30.0), (1, 4.0, 1.5)] {
            let pmf = BetaDistribution.betaBinomial(n: n, a: a, b: b)
            XCTAssertEqual(pmf.reduce(0, +), 1, accuracy: 1e-12)
            for k in 0...n {
                XCTAssertEqual(pmf[k], exp(-Reference.dirichletMultinomialNLL(counts: [Double(k), Double(n - k)], alpha: [a, b])), accuracy: 1e-12)
            }
            let interval = BetaDistribution.countInterval(n: n, a: a, b: b)
            let below = pmf[..<interval.lowerBound].reduce(0, +), above = pmf[(interval.upperBound + 1)...].reduce(0, +)
            XCTAssertLessThanOrEqual(below, 0.05 + 1e-12)
            XCTAssertLessThanOrEqual(above, 0.05 + 1e-12)
            XCTAssertGreaterThanOrEqual(1 - below - above, 0.9 - 1e-12)
            // And it is the smallest such: one more count off either end would pass 5% in that tail.
            if interval.lowerBound < n { XCTAssertGreaterThan(below + pmf[interval.lowerBound], 0.05) }
            if interval.upperBound > 0 { XCTAssertGreaterThan(above + pmf[interval.upperBound], 0.05) }
        }
    }

    func testAnswersFollowTheTree() {
        let schema = AnswerSchema.decalsDR5
        var rng = SplitMix64(seed: 8)
        let alpha = (0..<schema.answerCount).map { _ in Double(rng.uniform(1, 100)) }
        let answers = ConcentrationAnswers(schema: schema, concentrations: alpha)
        for (q, range) in schema.questionRanges.enumerated() {
            XCTAssertEqual(range.reduce(0.0) { $0 + answers.expectedShare[$1] }, 1, accuracy: 1e-12)
            let reach = schema.parentColumn[q].map { answers.expectedFraction[$0] } ?? 1
            XCTAssertEqual(range.reduce(0.0) { $0 + answers.expectedFraction[$1] }, reach, accuracy: 1e-12, schema.questions[q].id)
            for c in range { XCTAssertTrue(answers.interval[c].contains(answers.expectedShare[c])) }
        }
        let text = answers.render(observed: [Float](repeating: 1, count: schema.answerCount))
        XCTAssertTrue(text.contains("Spiral arm count") && text.contains("more-than-4") && text.contains("observed 1"), text)
    }

    /// Counts drawn from the model's own Beta-binomial: its 90% intervals cover at least 90% of them and not
    /// much more (discreteness, 400 galaxies x 2 answers: the binomial spread of the share is 1.5%); a model 20
    /// times too confident covers far less, and its NLL is worse than the truth's.
    func testCoverageIsHonestForTheTrueModelOnly() throws {
        let schema = try AnswerSchema(name: "toy", questions: [.init(id: "q", answers: ["y", "n"])])
        var rng = SplitMix64(seed: 21)
        let truth: [Double] = [3, 7]
        var counts: [Float] = []
        for _ in 0..<400 {
            let p = BetaDistribution.quantile(Double(rng.uniform(0, 1)), a: truth[0], b: truth[1])
            let n = rng.next() % 2 == 0 ? 5 : 40
            let yes = (0..<n).filter { _ in Double(rng.uniform(0, 1)) < p }.count
            counts += [Float(yes), Float(n - yes)]
        }
        let rows = Array(0..<400)
        let honest = CountEvaluation.evaluate(schema: schema, counts: counts, rows: rows, baseline: truth) { _ in truth }
        let overconfident = CountEvaluation.evaluate(schema: schema, counts: counts, rows: rows, baseline: truth) { _ in truth.map { $0 * 20 } }
        XCTAssertGreaterThanOrEqual(honest.questions[0].coverage, 0.87)
        XCTAssertLessThanOrEqual(honest.questions[0].coverage, 0.99)
        XCTAssertLessThan(overconfident.questions[0].coverage, 0.8)
        XCTAssertGreaterThan(overconfident.nll, honest.nll)
        XCTAssertEqual(honest.nll, honest.baselineNLL, accuracy: 1e-12)
        let fitted = CountStatistics.constantConcentrations(counts: counts, width: 2, rows: rows, questionStarts: [0, 2])
        XCTAssertEqual(fitted[0] / (fitted[0] + fitted[1]), 0.3, accuracy: 0.05, "the fitted mean share")
        XCTAssertTrue(honest.render().contains("90% coverage"))
    }
}
