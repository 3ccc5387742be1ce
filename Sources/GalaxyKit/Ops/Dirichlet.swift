import Foundation

// dirichlet_concentration, dirichlet_forward and dirichlet_backward: the Dirichlet-multinomial loss of vote counts
// (Zoobot's, Walmsley et al. 2022) and the concentration map of its head. The op's CPU references (float64, the
// specification its tests hold the shaders to), the host mirrors of the push constants, and the recordings.
//
// A row holds one galaxy's counts k (how many volunteers gave each answer) and the network's pre-activations z.
// Each question q of the schema (columns questionStarts[q] ..< questionStarts[q + 1]) is a Dirichlet-multinomial
// with concentrations alpha = 1 + 99 sigmoid(z): p(k | alpha) = N! / prod k_i! * B(alpha + k) / B(alpha), N =
// sum k_i. The loss is the negative log of it, summed over the questions with N > 0: a question nobody was asked
// (N = 0) has probability 1 and adds nothing, and a galaxy weighs as much as the votes it has.
//
// Why 1 + 99 sigmoid (Zoobot bounds its outputs to about 1..100 the same way): alpha >= 1 keeps every Beta
// marginal's density finite at 0 and 1 and keeps log Gamma and digamma on [1, inf), where they need no
// reflection; alpha <= 100 per answer caps the confidence at that of ~100 votes, so a few perfectly agreeing
// volunteers cannot drive a concentration (and the loss's gradient) to infinity; and the sigmoid's slope
// 99/4 at z = 0 starts a fresh head in the middle of the range, where it learns.

extension Reference {
    /// The concentration map's range: alpha in (floor, floor + span).
    public static let concentrationFloor = 1.0
    public static let concentrationSpan = 99.0

    public static func sigmoid(_ z: Double) -> Double { z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)) }

    /// sigmoid'(z) = sigmoid (1 - sigmoid) as t / (1 + t)^2, t = e^-|z| (1 - sigmoid would cancel for large z).
    public static func sigmoidSlope(_ z: Double) -> Double {
        let t = exp(-abs(z))
        return t / ((1 + t) * (1 + t))
    }

    /// alpha = 1 + 99 sigmoid(z).
    public static func concentration(_ z: Double) -> Double { concentrationFloor + concentrationSpan * sigmoid(z) }

    /// alpha[i] = concentration(z[i]) (dirichlet_concentration).
    public static func dirichletConcentration(_ z: [Double]) -> [Double] { z.map(concentration) }

    /// log Gamma(x), x > 0.
    public static func logGamma(_ x: Double) -> Double { lgamma(x) }

    /// digamma(x) = d log Gamma / dx for x > 0 to float64 accuracy: shifted up to x >= 12, then the asymptotic
    /// series to 1/(12 x^14) (the next term, 3617/(8160 x^16), is below 3e-18 there).
    public static func digamma(_ x: Double) -> Double {
        precondition(x > 0, "digamma(\(x))")
        var x = x, shift = 0.0
        while x < 12 { shift += 1 / x; x += 1 }
        let r2 = 1 / (x * x)
        let series = r2 * (1.0 / 12 - r2 * (1.0 / 120 - r2 * (1.0 / 252 - r2 * (1.0 / 240 - r2 * (1.0 / 132 - r2 * (691.0 / 32760 - r2 / 12))))))
        return log(x) - 0.5 / x - series - shift
    }

    /// -log p(counts | alpha) of one question's Dirichlet-multinomial (0 when it has no votes).
    public static func dirichletMultinomialNLL(counts: ArraySlice<Double>, alpha: ArraySlice<Double>) -> Double {
        precondition(counts.count == alpha.count)
        let n = counts.reduce(0, +), a = alpha.reduce(0, +)
        guard n > 0 else { return 0 }
        var nll = logGamma(n + a) - logGamma(a) - logGamma(n + 1)
        for (k, al) in zip(counts, alpha) where k > 0 { nll += logGamma(k + 1) - (logGamma(k + al) - logGamma(al)) }
        return nll
    }

    /// Sum over rows and questions of the Dirichlet-multinomial NLL of `counts` under concentration(z)
    /// (z and counts are [rows, width], width = questionStarts.last).
    public static func dirichletForward(_ z: [Double], _ counts: [Double], rows: Int, questionStarts: [Int]) -> Double {
        let width = questionStarts.last!
        precondition(z.count == rows * width && counts.count == z.count, "dirichletForward: sizes for \(rows) rows of \(width)")
        var total = 0.0
        for r in 0..<rows {
            for q in 0..<(questionStarts.count - 1) {
                let cols = (r * width + questionStarts[q])..<(r * width + questionStarts[q + 1])
                total += dirichletMultinomialNLL(counts: counts[cols], alpha: ArraySlice(cols.map { concentration(z[$0]) }))
            }
        }
        return total
    }

    /// Gradient of dirichletForward / denominator (default: rows) with respect to z.
    public static func dirichletBackward(_ z: [Double], _ counts: [Double], rows: Int, questionStarts: [Int], denominator: Int? = nil) -> [Double] {
        let width = questionStarts.last!
        precondition(z.count == rows * width && counts.count == z.count, "dirichletBackward: sizes for \(rows) rows of \(width)")
        let d = Double(denominator ?? rows)
        var grad = [Double](repeating: 0, count: z.count)
        for r in 0..<rows {
            for q in 0..<(questionStarts.count - 1) {
                let cols = (r * width + questionStarts[q])..<(r * width + questionStarts[q + 1])
                let n = cols.reduce(0.0) { $0 + counts[$1] }, a = cols.reduce(0.0) { $0 + concentration(z[$1]) }
                guard n > 0 else { continue }
                for c in cols {
                    let alpha = concentration(z[c]), k = counts[c]
                    var dAlpha = digamma(n + a) - digamma(a)
                    if k > 0 { dAlpha -= digamma(k + alpha) - digamma(alpha) }
                    grad[c] = dAlpha * concentrationSpan * sigmoidSlope(z[c]) / d
                }
            }
        }
        return grad
    }
}

/// Bounds on the float32 error of the Dirichlet shaders against their float64 references (Reference above), from
/// the rounding of each step: DirichletTests and `galaxy selftest` hold the shaders to them.
public enum DirichletBounds {
    static let u = 0x1p-24

    /// Relative error of alpha = 1 + 99 sigmoid(z) in float32: t = exp(-|z|) to 3 + 2|z| ulp (Vulkan's exp), 1 + t,
    /// the division (2.5 ulp), the product by 99 and the sum (2u): (8 + 2|z|) u of 99 sigmoid, and 1u of alpha.
    public static func alphaError(_ z: Double) -> Double {
        (Reference.concentrationSpan * Reference.sigmoid(z) * (8 + 2 * abs(z)) + Reference.concentration(z)) * Self.u
    }

    /// |terms| of lgammaAtLeastOne(x) after its shift to x' >= 8: (x' - 1/2) log x', x', the constant, the
    /// series and log of the shift product. log is within 3 ulp there, each product and sum 1u, the shift's
    /// rounding of x + j moves x' by at most 7 half-ulps at 8 (ψ(8) < 2.1 times that): 32u of the terms.
    public static func lgammaError(_ x: Double) -> Double {
        var x = x, product = 1.0
        while x < 8 { product *= x; x += 1 }
        return 32 * Self.u * (abs((x - 0.5) * log(x)) + x + 1 + log(product))
    }

    /// digammaAtLeastOne(x): log x' (3 ulp), 1/x' and the series (a few u of <= 1/16), the shift sum of up to 7
    /// reciprocals (2.5 ulp each, 1u per addition): 32u of |log x'| + shift + 1.
    public static func digammaError(_ x: Double) -> Double {
        var x = x, shift = 0.0
        while x < 8 { shift += 1 / x; x += 1 }
        return 32 * Self.u * (abs(log(x)) + shift + 1)
    }

    /// Bound on the float32 forward sum: per (row, question) every log Gamma's error, the error an alpha's
    /// rounding moves the NLL by (|d nll / d alpha_i| * its error, with N and A's sums' rounding as much again),
    /// then the sum of rows x questions terms >= 0: each invocation adds ceil(terms / workgroup) of them and the
    /// workgroup's tree log2(workgroup) levels more, (that depth + 2) u * sum (Higham).
    public static func forward(_ z: [Double], _ k: [Double], rows: Int, starts: [Int], workgroup: Int) -> Double {
        var perTerm = 0.0, total = 0.0
        forEachVotedQuestion(z, k, rows: rows, starts: starts) { cols, alpha, n, a in
            total += Reference.dirichletMultinomialNLL(counts: k[cols], alpha: ArraySlice(alpha))
            var e = lgammaError(n + a) + lgammaError(a) + lgammaError(n + 1) + Double(cols.count + 2) * (n + a) * Self.u * Reference.digamma(n + a)
            for (i, c) in cols.enumerated() where k[c] > 0 {
                e += lgammaError(k[c] + 1) + lgammaError(k[c] + alpha[i]) + lgammaError(alpha[i])
                let slope = abs(Reference.digamma(n + a) - Reference.digamma(a) - Reference.digamma(k[c] + alpha[i]) + Reference.digamma(alpha[i]))
                e += 2 * slope * alphaError(z[c])
            }
            for c in cols where k[c] == 0 {
                e += 2 * abs(Reference.digamma(n + a) - Reference.digamma(a)) * alphaError(z[c])
            }
            perTerm += e
        }
        let terms = rows * (starts.count - 1)
        let depth = (terms + workgroup - 1) / workgroup + Int(log2(Double(workgroup)).rounded(.up)) + 2
        return perTerm + Double(depth) * Self.u * total + Double.leastNormalMagnitude
    }

    /// Bound per element of the float32 backward: the four digammas' errors and their differences' rounding, the
    /// alphas' errors through trigamma (x psi'(x) <= 2 for x >= 1, so each psi moves by at most 2 times the relative
    /// error of its argument; four of them), then the factor 99 sigmoid'(z) / denominator: exp to 3 + 2|z| ulp,
    /// 1 + t squared, two products and the divisions: (10 + 2|z|) u relative.
    public static func backward(_ z: [Double], _ k: [Double], rows: Int, starts: [Int], denominator: Int) -> [Double] {
        var bound = [Double](repeating: Double.leastNormalMagnitude, count: z.count)
        forEachVotedQuestion(z, k, rows: rows, starts: starts) { cols, alpha, n, a in
            let worstAlpha = cols.map { alphaError(z[$0]) / Reference.concentration(z[$0]) }.max()! + Double(cols.count) * Self.u
            for (i, c) in cols.enumerated() {
                var dAlpha = Reference.digamma(n + a) - Reference.digamma(a)
                var e = digammaError(n + a) + digammaError(a) + 2 * Self.u * abs(Reference.digamma(n + a)) + 8 * worstAlpha
                if k[c] > 0 {
                    dAlpha -= Reference.digamma(k[c] + alpha[i]) - Reference.digamma(alpha[i])
                    e += digammaError(k[c] + alpha[i]) + digammaError(alpha[i]) + 2 * Self.u * abs(Reference.digamma(k[c] + alpha[i])) + 8 * worstAlpha
                }
                let factor = Reference.concentrationSpan * Reference.sigmoidSlope(z[c]) / Double(denominator)
                bound[c] += factor * (e + abs(dAlpha) * (10 + 2 * abs(z[c])) * Self.u)
            }
        }
        return bound
    }

    /// Calls `body` for every (row, question) of `rows` [rows, starts.last] that has votes, with the question's
    /// columns, their concentrations, its number of votes N and its concentrations' sum A.
    static func forEachVotedQuestion(_ z: [Double], _ k: [Double], rows: Int, starts: [Int],
                                     _ body: (_ cols: Range<Int>, _ alpha: [Double], _ n: Double, _ a: Double) -> Void) {
        let width = starts.last!
        for r in 0..<rows {
            for q in 0..<(starts.count - 1) {
                let cols = (r * width + starts[q])..<(r * width + starts[q + 1])
                let alpha = cols.map { Reference.concentration(z[$0]) }
                let n = cols.reduce(0.0) { $0 + k[$1] }, a = alpha.reduce(0, +)
                if n > 0 { body(cols, alpha, n, a) }
            }
        }
    }
}

struct DirichletParams { var rows: UInt32; var width: UInt32; var questions: UInt32; var slot: UInt32; var accumulate: UInt32 }
struct DirichletBackwardParams { var rows: UInt32; var width: UInt32; var questions: UInt32; var denominator: UInt32 }
struct DirichletConcentrationParams { var count: UInt32 }

extension Kernels {
    /// alpha = 1 + 99 sigmoid(z) over `count` elements.
    public func dirichletConcentration(_ seq: CommandSequence, z: BufferRange, alpha: BufferRange, count: Int) throws {
        try seq.dispatch(pipeline("dirichlet_concentration", 2, DirichletConcentrationParams.self), [z, alpha],
                         push: DirichletConcentrationParams(count: UInt32(count)), invocations: count)
    }

    /// loss[slot] = the Dirichlet-multinomial NLL of counts [rows, width] under concentration(z), summed over rows
    /// and questions (or += when `accumulate`). `questionStarts`: questions + 1 uints (AnswerSchema.questionStarts).
    public func dirichletForward(_ seq: CommandSequence, z: BufferRange, counts: BufferRange, questionStarts: BufferRange, loss: BufferRange,
                                 rows: Int, width: Int, questions: Int, slot: Int = 0, accumulate: Bool = false) throws {
        let push = DirichletParams(rows: UInt32(rows), width: UInt32(width), questions: UInt32(questions), slot: UInt32(slot),
                                   accumulate: accumulate ? 1 : 0)
        // One workgroup sums everything in a fixed order, so the loss is deterministic.
        let p = try pipeline("dirichlet_forward", 4, DirichletParams.self)
        try seq.dispatch(p, [z, counts, questionStarts, loss], push: push, invocations: p.workgroupSize)
    }

    /// grad = d(dirichletForward) / dz / denominator (default: rows) over [rows, width].
    public func dirichletBackward(_ seq: CommandSequence, z: BufferRange, counts: BufferRange, questionStarts: BufferRange, grad: BufferRange,
                                  rows: Int, width: Int, questions: Int, denominator: Int? = nil) throws {
        let push = DirichletBackwardParams(rows: UInt32(rows), width: UInt32(width), questions: UInt32(questions),
                                           denominator: UInt32(denominator ?? rows))
        try seq.dispatch(pipeline("dirichlet_backward", 4, DirichletBackwardParams.self), [z, counts, questionStarts, grad], push: push,
                         invocations: rows * width)
    }
}
