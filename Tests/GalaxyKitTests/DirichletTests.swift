import XCTest
@testable import GalaxyKit

/// dirichlet_concentration, dirichlet_forward, dirichlet_backward against their float64 references, and the
/// references' gradient against finite differences.
final class DirichletTests: GPUTestCase {
    static let u = 0x1p-24
    /// The layouts, row counts, logits and vote counts the op is checked on (SelfTest's, which `galaxy selftest` runs).
    static let layouts = SelfTest.dirichletLayouts
    static let rowCounts = SelfTest.dirichletRowCounts
    static func logits(_ count: Int, seed: UInt64) -> [Float] { SelfTest.dirichletLogits(count, seed: seed) }
    static func counts(rows: Int, starts: [Int], seed: UInt64) -> [Float] { SelfTest.voteCounts(rows: rows, starts: starts, seed: seed) }
    /// The float32 error bounds of the shaders (DirichletBounds, Dirichlet.swift).
    static func alphaError(_ z: Double) -> Double { DirichletBounds.alphaError(z) }
    static func forwardBound(_ z: [Double], _ k: [Double], rows: Int, starts: [Int], workgroup: Int) -> Double {
        DirichletBounds.forward(z, k, rows: rows, starts: starts, workgroup: workgroup)
    }
    static func backwardBound(_ z: [Double], _ k: [Double], rows: Int, starts: [Int], denominator: Int) -> [Double] {
        DirichletBounds.backward(z, k, rows: rows, starts: starts, denominator: denominator)
    }

    func startsBuffer(_ starts: [Int]) throws -> GuardedBuffer { try input(starts.map { Float(bitPattern: UInt32($0)) }, "qstart") }

    /// Kernels for every configuration: the device's own path and the GPU workgroup sizes (gpuVariants).
    var configurations: [(String, Kernels)] { [("device", kernels)] + gpuVariants() }

    // MARK: the references

    /// digamma against the derivative of lgamma (central differences at h = 1e-4, whose truncation error
    /// h^2/6 |psi''| <= 4e-9 for x >= 1 and roundoff 2^-52 |lgamma| / h are far below the 1e-7 allowed), and the
    /// recurrence psi(x + 1) = psi(x) + 1/x, on 1 ... 5000.
    func testDigammaReference() {
        var rng = SplitMix64(seed: 5)
        for _ in 0..<200 {
            let x = 1 + Double(rng.uniform(0, 1)) * Double([1, 10, 100, 5000][Int(rng.next() % 4)])
            let h = 1e-4
            let fd = (Reference.logGamma(x + h) - Reference.logGamma(x - h)) / (2 * h)
            XCTAssertEqual(Reference.digamma(x), fd, accuracy: 1e-7 * max(1, abs(fd)), "digamma(\(x))")
            XCTAssertEqual(Reference.digamma(x + 1), Reference.digamma(x) + 1 / x, accuracy: 4e-15 * max(1, abs(Reference.digamma(x + 1))), "recurrence at \(x)")
        }
    }

    /// A question nobody answered adds nothing; the NLL of one vote is -log of that answer's expected share
    /// alpha_i / A (a Dirichlet-multinomial with N = 1 is a categorical with the mean probabilities).
    func testReferenceOfEmptyQuestionsAndSingleVotes() {
        XCTAssertEqual(Reference.dirichletMultinomialNLL(counts: [0, 0, 0], alpha: [2, 3, 50]), 0)
        let alpha: [Double] = [2, 3, 50.5]
        for i in 0..<3 {
            var k: [Double] = [0, 0, 0]
            k[i] = 1
            XCTAssertEqual(Reference.dirichletMultinomialNLL(counts: k[...], alpha: alpha[...]), -log(alpha[i] / alpha.reduce(0, +)), accuracy: 1e-12)
        }
        // The probabilities of every outcome of N = 4 votes over 3 answers sum to 1.
        var total = 0.0
        for a in 0...4 { for b in 0...(4 - a) { total += exp(-Reference.dirichletMultinomialNLL(counts: [Double(a), Double(b), Double(4 - a - b)], alpha: alpha[...])) } }
        XCTAssertEqual(total, 1, accuracy: 1e-12)
    }

    /// The backward reference against central differences of the forward reference, per element: z[i] moves
    /// only its own question's NLL, so that is what is differenced. Tolerance: the truncation error, estimated
    /// as the change from h to h/2 (Richardson), plus float64 roundoff of the two NLLs over h, each within a few
    /// 2^-53 of the sum of its log Gamma terms' magnitudes.
    func testBackwardReferenceMatchesFiniteDifferences() {
        for (name, starts) in Self.layouts {
            let rows = 3, width = starts.last!
            let z = Self.logits(rows * width, seed: 11).asDouble.map { max(-8, min(8, $0)) }
            let k = Self.counts(rows: rows, starts: starts, seed: 12).asDouble
            let denominator = 7
            let grad = Reference.dirichletBackward(z, k, rows: rows, questionStarts: starts, denominator: denominator)
            var checked = 0
            for i in z.indices {
                let (r, c) = (i / width, i % width)
                let q = starts.lastIndex { $0 <= c }!
                let cols = (r * width + starts[q])..<(r * width + starts[q + 1])
                func nll(_ zz: [Double]) -> Double {
                    Reference.dirichletMultinomialNLL(counts: k[cols], alpha: ArraySlice(cols.map { Reference.concentration(zz[$0]) })) / Double(denominator)
                }
                func fd(_ h: Double) -> Double {
                    var plus = z, minus = z
                    plus[i] += h
                    minus[i] -= h
                    return (nll(plus) - nll(minus)) / (2 * h)
                }
                let n = cols.reduce(0.0) { $0 + k[$1] }, a = cols.reduce(0.0) { $0 + Reference.concentration(z[$1]) }
                let magnitude = (abs(Reference.logGamma(n + a)) + abs(Reference.logGamma(a)) + abs(Reference.logGamma(n + 1))
                    + cols.reduce(0.0) { $0 + 3 * abs(Reference.logGamma(k[$1] + Reference.concentration(z[$1]))) + abs(Reference.logGamma(k[$1] + 1)) }) / Double(denominator)
                let h = 1e-4
                let (d1, d2) = (fd(h), fd(h / 2))
                let tolerance = 2 * abs(d1 - d2) + 8 * 0x1p-53 * magnitude / (h / 2) + 1e-14
                XCTAssertEqual(grad[i], d2, accuracy: tolerance, "\(name) d loss / d z[\(i)]")
                if grad[i] != 0 { checked += 1 }
            }
            XCTAssertGreaterThan(checked, z.count / 3, "\(name): most gradients are non-zero")
        }
    }

    // MARK: the shaders

    func testConcentrationMatchesReference() throws {
        for n in [1, 37, 4736] {
            let z = Self.logits(n, seed: UInt64(n))
            let (zb, ab) = (try input(z), try output(n))
            try run { try kernels.dirichletConcentration($0, z: zb.whole, alpha: ab.whole, count: n) }
            let got = try result(ab, n)
            assertWithinBound(got, Reference.dirichletConcentration(z.asDouble), bound: z.asDouble.map(Self.alphaError), "dirichlet_concentration \(n)")
            XCTAssertTrue(got.allSatisfy { $0 >= 1 && $0 <= 100 }, "alpha in [1, 100]")
        }
    }

    func testDirichletForwardMatchesReference() throws {
        for (tag, k) in configurations {
            for (name, starts) in Self.layouts {
                for (i, rows) in Self.rowCounts.enumerated() {
                    let width = starts.last!
                    let z = Self.logits(rows * width, seed: UInt64(20 + i)), counts = Self.counts(rows: rows, starts: starts, seed: UInt64(30 + i))
                    let (zb, kb, qb, lb) = (try input(z), try input(counts, "counts"), try startsBuffer(starts), try output(3, "loss"))
                    try run {
                        try k.dirichletForward($0, z: zb.whole, counts: kb.whole, questionStarts: qb.whole, loss: lb.whole, rows: rows, width: width,
                                               questions: starts.count - 1, slot: 1)
                    }
                    let got: [Float] = try lb.download(count: 3)
                    XCTAssertEqual(got[0].bitPattern, Self.poison.bitPattern, "slot 0 must be untouched")
                    XCTAssertEqual(got[2].bitPattern, Self.poison.bitPattern, "slot 2 must be untouched")
                    let want = Reference.dirichletForward(z.asDouble, counts.asDouble, rows: rows, questionStarts: starts)
                    XCTAssertGreaterThan(want, 0)
                    assertWithinBound([got[1]], [want], bound: [Self.forwardBound(z.asDouble, counts.asDouble, rows: rows, starts: starts,
                                                                                workgroup: Int(k.path.workgroupSize))],
                                      "dirichlet_forward \(tag) \(name) rows \(rows)")
                }
            }
        }
    }

    func testDirichletForwardAccumulatesAndSkipsQuestionsWithoutVotes() throws {
        let starts = AnswerSchema.decalsDR5.questionStarts, width = starts.last!, rows = 5
        let z = Self.logits(rows * width, seed: 40)
        var counts = Self.counts(rows: rows, starts: starts, seed: 41)
        for c in 0..<width { counts[2 * width + c] = 0 }  // row 2: nobody voted
        let (zb, kb, qb, lb) = (try input(z), try input(counts, "counts"), try startsBuffer(starts), try input([0.5]))
        try run {
            for _ in 0..<2 {
                try kernels.dirichletForward($0, z: zb.whole, counts: kb.whole, questionStarts: qb.whole, loss: lb.whole, rows: rows, width: width,
                                             questions: starts.count - 1, accumulate: true)
            }
        }
        let once = Reference.dirichletForward(z.asDouble, counts.asDouble, rows: rows, questionStarts: starts)
        let without = Reference.dirichletForward(Array(z.asDouble[0..<(2 * width)] + z.asDouble[(3 * width)...]),
                                                 Array(counts.asDouble[0..<(2 * width)] + counts.asDouble[(3 * width)...]), rows: rows - 1, questionStarts: starts)
        XCTAssertEqual(once, without, accuracy: 1e-9 * once, "a row without votes adds nothing")
        let bound = 2 * Self.forwardBound(z.asDouble, counts.asDouble, rows: rows, starts: starts, workgroup: Int(kernels.path.workgroupSize)) + 4 * Self.u * (0.5 + 2 * once)
        assertWithinBound(try result(lb, 1), [0.5 + 2 * once], bound: [bound], "dirichlet_forward accumulate")
    }

    func testDirichletBackwardMatchesReference() throws {
        for (tag, k) in configurations {
            for (name, starts) in Self.layouts {
                for (i, rows) in Self.rowCounts.enumerated() {
                    let width = starts.last!
                    let z = Self.logits(rows * width, seed: UInt64(50 + i)), counts = Self.counts(rows: rows, starts: starts, seed: UInt64(60 + i))
                    for denominator in [rows, 3 * rows + 5] {
                        let (zb, kb, qb, gb) = (try input(z), try input(counts, "counts"), try startsBuffer(starts), try output(z.count, "grad"))
                        try run {
                            try k.dirichletBackward($0, z: zb.whole, counts: kb.whole, questionStarts: qb.whole, grad: gb.whole, rows: rows, width: width,
                                                    questions: starts.count - 1, denominator: denominator)
                        }
                        let got = try result(gb, z.count)
                        let want = Reference.dirichletBackward(z.asDouble, counts.asDouble, rows: rows, questionStarts: starts, denominator: denominator)
                        assertWithinBound(got, want, bound: Self.backwardBound(z.asDouble, counts.asDouble, rows: rows, starts: starts, denominator: denominator),
                                          "dirichlet_backward \(tag) \(name) rows \(rows) / \(denominator)")
                        // A question without votes gets exactly 0.
                        for r in 0..<rows {
                            for q in 0..<(starts.count - 1) where (starts[q]..<starts[q + 1]).allSatisfy({ counts[r * width + $0] == 0 }) {
                                XCTAssertTrue((starts[q]..<starts[q + 1]).allSatisfy { got[r * width + $0] == 0 }, "\(name) row \(r) question \(q): no votes, no gradient")
                            }
                        }
                    }
                }
            }
        }
    }
}
