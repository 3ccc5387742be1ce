import Foundation
import XCTest
@testable import GalaxyKit

final class ConstrainedOutputTests: GPUTestCase {
    /// 70 rows: more than one 64-wide workgroup and not a multiple of it.
    static let batches = [1, 3, 70]
    static let u = 0x1p-24

    /// A small tree from a schema file whose first question is asked after an answer of the second, so that the
    /// layer must scale in treeOrder (1, 0, 2, 3), not in question order.
    static let tiny = try! AnswerSchema(json: Data("""
        {"name": "tiny", "questions": [
          {"id": "shape", "answers": ["round", "cigar"], "after": "kind_smooth"},
          {"id": "kind", "answers": ["smooth", "disk", "star"]},
          {"id": "arms", "answers": ["none", "two", "many"], "after": "kind_disk"},
          {"id": "twist", "answers": ["tight", "loose"], "after": "arms_two"}]}
        """.utf8), source: "tiny.json")

    /// Kaggle's tree, GZ DECaLS' and the small file's. The error bounds below are derived for trees at most 4
    /// questions deep, of at most 7 answers a question and at most 10 answers asked after one answer: each is checked.
    static let trees: [AnswerSchema] = {
        let trees = [AnswerSchema.kaggle, .decalsDR5, tiny]
        for t in trees {
            func depth(_ q: Int) -> Int { t.parentColumn[q].map { 1 + depth(t.questionOfColumn[$0]) } ?? 1 }
            precondition(t.questions.indices.map(depth).max()! <= 4 && t.questionRanges.map(\.count).max()! <= 7)
            precondition((0..<t.answerCount).allSatisfy { c in t.questionRanges.indices.filter { t.parentColumn[$0] == c }.reduce(0) { $0 + t.questionRanges[$1].count } <= 10 })
        }
        precondition(tiny.treeOrder == [1, 0, 2, 3])
        return trees
    }()

    /// Random rows (about half the answers <= 0) whose first rows hold the cases that kill a question
    /// in the relu form: every answer of a question negative (slightly, by -30, by -200: the softplus
    /// form's tail, where softplus underflows float32), a whole row negative, and large positives.
    static func rows(_ batch: Int, seed: UInt64, tree: AnswerSchema) -> [Float] {
        let width = tree.answerCount
        var z = randomFloats(batch * width, seed: seed)
        let special: [(Int) -> Float] = [{ _ in -0.5 }, { c in -30 + Float(c % 3) }, { c in -200 - Float(c % 4) }, { c in c % 2 == 0 ? 25 : -4 }]
        for b in 0..<min(batch, special.count) {
            for (q, range) in tree.questionRanges.enumerated() where q % 2 == b % 2 || b == 0 {
                for c in range { z[b * width + c] = special[b](c) }
            }
        }
        return z
    }

    /// The float32 relative error of the answer weight f(z) in units of u. Softplus evaluates exp at
    /// x = -|z| (z - top in the tail) to 3 + 2|x| ulp (Vulkan's exp), then log1pSmall (~8u) and a sum
    /// (1u); for z > 0 the exp term is a fraction e^-z / z of softplus(z), so 12u covers it. Relu's
    /// max(z, 0) is exact.
    static func weightError(_ z: ArraySlice<Double>, _ range: Range<Int>, form: ConstrainedOutputForm) -> Double {
        guard form == .softplus else { return 0 }
        let top = range.map { z[z.startIndex + $0] }.max()!
        let shift = top < Reference.softplusTail ? top : 0
        return range.map { c in 12 + 2 * max(0, shift - z[z.startIndex + c]) }.max()!
    }

    /// Float32 error bound of the forward, relative to p. Per question: the weights' error eps_a enters
    /// both numerator and sum (2 eps_a), the sum of up to 7 weights (6u), eps (1u), the division (Vulkan
    /// allows 2.5 ulp: 3u), the product with the parent (1u): 2 eps_a + 11u, 12u taken. Relative errors of
    /// a product of positive factors add along the chain from Q1 (deepest: Q1 -> Q2 -> Q4 -> Q10/Q11),
    /// plus 4u for second-order terms. (Where float32 rounds eps away the Float64 reference keeps it, a
    /// difference below that rounding.)
    static func forwardBound(_ z: [Double], batch: Int, tree: AnswerSchema, form: ConstrainedOutputForm) -> [Double] {
        let width = tree.answerCount
        var bound = [Double](repeating: 0, count: z.count)
        for b in 0..<batch {
            let row = z[b * width ..< (b + 1) * width]
            let p = Reference.constrainedOutputRow(row, tree: tree, form: form).p
            var chain = [Double](repeating: 0, count: width)
            for q in tree.treeOrder {  // parents before children
                let level = 2 * weightError(row, tree.questionRanges[q], form: form) + 12 + (tree.parentColumn[q].map { chain[$0] } ?? 0)
                for c in tree.questionRanges[q] { chain[c] = level }
            }
            for c in 0..<width { bound[b * width + c] = (chain[c] + 4) * u * p[c] + Double.leastNormalMagnitude }
        }
        return bound
    }

    /// Float32 error bound of the backward: K u times the backward evaluated on magnitudes (|dp|, and
    /// the subtraction dn_i - dot made an addition), which bounds every partial sum's rounding despite
    /// cancellation. K counts roundings along the longest path, dp of Q10/Q11 -> column 7 -> column 4
    /// -> column 1 -> dz of Q1: each hop multiplies by n (10u) and sums up to 10 terms (9u), ~20u a
    /// hop, ~52u at column 1; then Q1's dot (3 terms), the subtraction and the division by s: ~72u; 96u.
    /// Softplus: the n and p on the path carry up to 8 weight errors (2 per level, 4 levels), and
    /// r = sigmoid(z) / softplus(z) two exps at -z, log1pSmall, two divisions: 27 + 4 max(0, -z) u (r = 1
    /// below -20).
    static func backwardBound(_ z: [Double], _ dp: [Double], batch: Int, tree: AnswerSchema, form: ConstrainedOutputForm) -> [Double] {
        let width = tree.answerCount
        var bound = [Double](repeating: Double.leastNormalMagnitude, count: z.count)
        for b in 0..<batch {
            let base = b * width
            let row = z[base ..< base + width]
            let (n, s, p, r) = Reference.constrainedOutputRow(row, tree: tree, form: form)
            let weightErrors = tree.questionRanges.map { weightError(row, $0, form: form) }
            let k = form == .relu ? 96 : 96 + 8 * weightErrors.max()! + 27 + 4 * row.map { min(max(0, -$0), 20) }.max()!
            var g = dp[base ..< base + width].map(abs)
            for q in tree.treeOrder.reversed() {
                guard let parent = tree.parentColumn[q] else { continue }
                for c in tree.questionRanges[q] {
                    g[parent] += g[c] * n[c]
                    g[c] *= p[parent]
                }
            }
            for (q, range) in tree.questionRanges.enumerated() {
                let dot = range.reduce(0.0) { $0 + g[$1] * n[$1] }
                for c in range {
                    switch form {
                    case .relu: if z[base + c] > 0 { bound[base + c] += k * u * (g[c] + dot) / s[q] }
                    case .softplus: bound[base + c] += k * u * r[c] * n[c] * (g[c] + dot)
                    }
                }
            }
        }
        return bound
    }

    func testConstrainedOutputForwardMatchesReference() throws {
        for tree in Self.trees {
            for form in ConstrainedOutputForm.allCases {
                var worst = 0.0
                for (i, batch) in Self.batches.enumerated() {
                    let z = Self.rows(batch, seed: UInt64(100 + i), tree: tree)
                    let (zb, pb) = (try input(z), try output(z.count))
                    try run { try kernels.constrainedOutputForward($0, z: zb.whole, p: pb.whole, batch: batch, tree: tree, form: form) }
                    let want = Reference.constrainedOutputForward(z.asDouble, batch: batch, tree: tree, form: form)
                    worst = max(worst, assertWithinBound(try result(pb, z.count), want, bound: Self.forwardBound(z.asDouble, batch: batch, tree: tree, form: form),
                                                         "constrained_output_forward \(tree.name) \(form) batch \(batch)"))
                }
                print("constrained_output_forward \(tree.name) \(form): worst error / bound = \(worst)")
            }
        }
    }

    func testConstrainedOutputBackwardMatchesReference() throws {
        for tree in Self.trees {
            for form in ConstrainedOutputForm.allCases {
                var worst = 0.0
                for (i, batch) in Self.batches.enumerated() {
                    let z = Self.rows(batch, seed: UInt64(200 + i), tree: tree)
                    let dp = randomFloats(batch * tree.answerCount, seed: UInt64(300 + i))
                    let (zb, dpb, dzb) = (try input(z), try input(dp), try output(z.count))
                    try run { try kernels.constrainedOutputBackward($0, z: zb.whole, dp: dpb.whole, dz: dzb.whole, batch: batch, tree: tree, form: form) }
                    let want = Reference.constrainedOutputBackward(z.asDouble, dp.asDouble, batch: batch, tree: tree, form: form)
                    let bound = Self.backwardBound(z.asDouble, dp.asDouble, batch: batch, tree: tree, form: form)
                    worst = max(worst, assertWithinBound(try result(dzb, z.count), want, bound: bound, "constrained_output_backward \(tree.name) \(form) batch \(batch)"))
                }
                print("constrained_output_backward \(tree.name) \(form): worst error / bound = \(worst)")
            }
        }
    }

    /// The strict tree rule for the softplus form, on rows with dead-in-relu questions: every question's
    /// answers sum to its parent's value. A question's outputs are n_i * P with the stored parent P <= 1,
    /// and the n_i share one rounded denominator, so sum n_i is 1 within about 10u (the sum of s, 3u for
    /// the division) plus the weights' rounding spread (at most 2 weightError, over 12u for |z| <= 20
    /// and tail offsets <= 4 here: 2 * 20u); the products (1u) and treeSumViolation's own float32 sum of
    /// up to 7 terms (6u) add 7u: |sum - P| <= 57u. Tolerance 64u.
    func testConstrainedOutputSatisfiesTheDecisionTree() throws {
        let batch = 70
        for tree in Self.trees {
            let width = tree.answerCount
            let z = Self.rows(batch, seed: 400, tree: tree)
            let (zb, pb) = (try input(z), try output(z.count))
            try run { try kernels.constrainedOutputForward($0, z: zb.whole, p: pb.whole, batch: batch, tree: tree, form: .softplus) }
            let gpu = try result(pb, z.count)
            let cpu = Reference.constrainedOutputForward(z, batch: batch, tree: tree, form: .softplus)
            let tolerance = Float(64 * Self.u)
            var worst: Float = 0
            for b in 0..<batch {
                let row = b * width ..< (b + 1) * width
                for (what, values) in [("gpu", gpu), ("reference", cpu)] {
                    let violation = tree.treeSumViolation(values[row])
                    worst = max(worst, violation)
                    XCTAssertLessThanOrEqual(violation, tolerance, "\(tree.name) \(what) row \(b)")
                }
            }
            print("constrained output \(tree.name): worst tree-sum violation \(worst) (tolerance \(tolerance))")
        }
    }

    /// A row whose every pre-activation is <= 0 (some by -200): in the softplus form every question still
    /// has positive answers and every z a non-zero gradient, so no question can die; the relu form
    /// outputs all zeros and no gradient, the failure the softplus form exists to avoid.
    func testNoQuestionDiesInTheSoftplusForm() throws {
        for tree in Self.trees {
            let width = tree.answerCount, questions = tree.questionRanges.count
            var z = randomFloats(width, seed: 600).map { -abs($0) - 0.01 }
            for c in tree.questionRanges[1] { z[c] -= 30 }   // a question in the softplus form's tail
            for c in tree.questionRanges[questions - 1] { z[c] -= 200 }  // and one where softplus underflows float32
            let dp = randomFloats(width, seed: 601).map { $0 + 2 }  // non-zero, and no cancellation within a question
            for form in ConstrainedOutputForm.allCases {
                let (zb, dpb, pb, dzb) = (try input(z), try input(dp), try output(z.count), try output(z.count))
                try run {
                    try kernels.constrainedOutputForward($0, z: zb.whole, p: pb.whole, batch: 1, tree: tree, form: form)
                    try kernels.constrainedOutputBackward($0, z: zb.whole, dp: dpb.whole, dz: dzb.whole, batch: 1, tree: tree, form: form)
                }
                let (p, dz) = (try result(pb, z.count), try result(dzb, z.count))
                let aliveOutputs = tree.questionRanges.filter { range in range.contains { p[$0] > 0 } }.count
                let aliveGradients = tree.questionRanges.filter { range in range.contains { dz[$0] != 0 } }.count
                switch form {
                case .softplus:
                    XCTAssertEqual(aliveOutputs, questions, "\(tree.name) softplus: a question output all zeros: \(p)")
                    XCTAssertEqual(aliveGradients, questions, "\(tree.name) softplus: a question got no gradient: \(dz)")
                    XCTAssertLessThanOrEqual(tree.treeSumViolation(p[...]), Float(64 * Self.u), tree.name)
                case .relu:
                    XCTAssertEqual(aliveOutputs + aliveGradients, 0, "\(tree.name) relu: a negative row should be dead: \(p) \(dz)")
                }
            }
        }
    }

    /// --mean-output-bias on the decision-tree layer: biases whose outputs are the given means, for means
    /// that obey the tree (here the average of valid outputs), in every tree, both forms and at every scale.
    func testMeanOutputBiasGivesBackTheMeans() {
        var rng = SplitMix64(seed: 77)
        for tree in Self.trees {
            for form in ConstrainedOutputForm.allCases {
                var means = [Double](repeating: 0, count: tree.answerCount)
                for _ in 0..<20 {
                    let z = (0..<tree.answerCount).map { _ in Double.random(in: -2...4, using: &rng) }
                    let p = Reference.constrainedOutputRow(z[...], tree: tree, form: .softplus).p
                    for c in means.indices { means[c] += p[c] / 20 }
                }
                for scale in [1.0, 4.0, 16.0] {
                    let bias = Reference.constrainedOutputBias(means: means, tree: tree, form: form, scale: scale)
                    let p = Reference.constrainedOutputRow(bias[...], tree: tree, form: form).p
                    for c in means.indices {
                        XCTAssertEqual(p[c], means[c], accuracy: 1e-12 + 1e-9 * means[c], "\(tree.name) \(form) scale \(scale) \(tree.columnNames[c])")
                    }
                }
            }
        }
        // An answer nobody gave starts small, not at zero or below the softplus tail.
        var sparse = [Double](repeating: 0.1, count: AnswerSchema.kaggle.answerCount)
        sparse[0] = 0
        let b = Reference.constrainedOutputBias(means: sparse, tree: .kaggle, form: .softplus, scale: 4)
        XCTAssertGreaterThan(b[0], Reference.softplusTail)
        XCTAssertGreaterThan(Reference.softplus(b[0]), 0)
    }

    /// Central finite differences in Float64 of L(z) = <r, forward(z)>, whose gradient is backward(z, r), in every tree.
    /// Relu form: z is kept at least 0.1 from 0, so max(., 0) is smooth nearby and every non-empty
    /// question sum is >= 0.1: third derivatives of a_i / s stay below ~10^3, so with h = 1e-6 the
    /// truncation error (h^2 f''' / 6) is ~1e-10 and the rounding error (1e-16 |L| / h, |L| < 40) ~4e-9.
    /// Softplus form: smooth everywhere; the rows also hold a question at -30 (the tail form) and mixed
    /// signs up to 25, away from the tail's switch at -20.
    func testConstrainedOutputBackwardByFiniteDifferences() {
        let batch = 4, h = 1e-6
        for tree in Self.trees {
            let width = tree.answerCount, last = tree.questionRanges.count - 1
            for form in ConstrainedOutputForm.allCases {
                var z = randomFloats(batch * width, seed: 500).map { Double($0) + ($0 >= 0 ? 0.1 : -0.1) }
                if form == .softplus {
                    for c in tree.questionRanges[last] { z[c] -= 30 }  // the last question of row 0 in the tail
                    for c in tree.questionRanges[1] { z[width + c] *= 25 }  // the second of row 1 large
                }
                let r = randomFloats(batch * width, seed: 501).asDouble
                let analytic = Reference.constrainedOutputBackward(z, r, batch: batch, tree: tree, form: form)
                func loss(_ z: [Double]) -> Double { zip(r, Reference.constrainedOutputForward(z, batch: batch, tree: tree, form: form)).reduce(0) { $0 + $1.0 * $1.1 } }
                var worst = 0.0
                for i in z.indices {
                    var plus = z, minus = z
                    plus[i] += h
                    minus[i] -= h
                    let numeric = (loss(plus) - loss(minus)) / (2 * h)
                    let err = abs(numeric - analytic[i]) / max(1, abs(numeric))
                    worst = max(worst, err)
                    XCTAssertLessThanOrEqual(err, 1e-7, "\(tree.name) \(form) constrainedOutputBackward[\(i)]: analytic \(analytic[i]) numeric \(numeric)")
                }
                switch form {
                case .relu: XCTAssertTrue(analytic.contains { $0 != 0 } && analytic.contains { $0 == 0 }, "\(tree.name): both branches of max(., 0) exercised")
                case .softplus: XCTAssertFalse(analytic.contains { $0 == 0 }, "\(tree.name): every softplus gradient is non-zero")
                }
                print("constrainedOutputBackward \(tree.name) \(form) finite differences: worst relative error \(worst)")
            }
        }
    }
}
