import XCTest
@testable import GalaxyKit

final class EvalSumsTests: GPUTestCase {
    /// (rows, columns): one of each, Galaxy Zoo's 37 columns at batch 5 and 128, 2 x columns invocations that
    /// are not a multiple of any workgroup size and more than one workgroup of 256.
    static let shapes = [(1, 1), (5, 37), (128, 37), (3, 100), (17, 300)]

    /// Bound of each sum: the float32 result is init + (the rows' terms added in order from 0), each square
    /// term off by at most 3 roundings (the difference, the product; one fewer when fused) and each output
    /// exact, so rows + 1 roundings of partial sums bound it (sumBound's (L + 2) u with L = rows + 1) on
    /// |init| + sum |terms|.
    func bound(_ pred: [Double], _ target: [Double], rows: Int, columns: Int, initial: [Double], terms: Int) -> [Double] {
        let squares = Reference.evalSums(pred, target, rows: rows, columns: columns, sums: initial.absolute)
        let outputs = Reference.evalSums(pred.absolute, target, rows: rows, columns: columns, sums: initial.absolute)
        return sumBound((0..<(2 * columns)).map { $0 < columns ? squares[$0] : outputs[$0] }, terms: terms)
    }

    func testEvalSumsMatchesReference() throws {
        for (i, (rows, columns)) in Self.shapes.enumerated() {
            for (tag, kernels) in [("device", kernels!)] + gpuVariants() {
                // Outputs of either sign (the op does not rely on the final ReLU), targets in [0, 1), sums that
                // already hold something: a shader that overwrote them instead of adding would lose it.
                let p = randomFloats(rows * columns, seed: UInt64(110 + i)), t = randomFloats(rows * columns, seed: UInt64(120 + i), 0, 1)
                let initial = randomFloats(2 * columns, seed: UInt64(130 + i))
                let (pb, tb, sb) = (try input(p, "pred"), try input(t, "target"), try input(initial, "sums"))
                try run { try kernels.evalSums($0, pred: pb.whole, target: tb.whole, sums: sb.whole, rows: rows, columns: columns) }
                let want = Reference.evalSums(p.asDouble, t.asDouble, rows: rows, columns: columns, sums: initial.asDouble)
                assertWithinBound(try result(sb, 2 * columns), want,
                                  bound: bound(p.asDouble, t.asDouble, rows: rows, columns: columns, initial: initial.asDouble, terms: rows + 1),
                                  "eval_sums \(tag) \(rows) x \(columns)")
            }
        }
    }

    /// An evaluation pass: its batches (the last one short) recorded one after another into sums that start at
    /// 0 add up to the whole pass's sums, and the same pass gives the same bits again.
    func testEvalSumsAddsAPassBatchByBatch() throws {
        let columns = 37, batches = [6, 6, 6, 3]
        for (tag, kernels) in [("device", kernels!)] + gpuVariants() {
            let pred = batches.enumerated().map { randomFloats($1 * columns, seed: UInt64(140 + $0), 0, 1) }
            let target = batches.enumerated().map { randomFloats($1 * columns, seed: UInt64(150 + $0), 0, 1) }
            let pb = try pred.map { try input($0, "pred") }, tb = try target.map { try input($0, "target") }
            var bits: [[UInt32]] = []
            for _ in 0..<2 {
                let sb = try input([Float](repeating: 0, count: 2 * columns), "sums")
                try run { seq in
                    for (j, rows) in batches.enumerated() {
                        try kernels.evalSums(seq, pred: pb[j].whole, target: tb[j].whole, sums: sb.whole, rows: rows, columns: columns)
                    }
                }
                let got = try result(sb, 2 * columns)
                bits.append(got.map(\.bitPattern))
                var want = [Double](repeating: 0, count: 2 * columns)
                for (j, rows) in batches.enumerated() {
                    want = Reference.evalSums(pred[j].asDouble, target[j].asDouble, rows: rows, columns: columns, sums: want)
                }
                // All terms are non-negative: the sums are their own absolute values. Each batch's rows, then
                // one addition per batch: sum(rows) + batches roundings at most.
                assertWithinBound(got, want, bound: sumBound(want, terms: batches.reduce(0, +) + batches.count), "eval_sums \(tag) pass of \(batches)")
            }
            XCTAssertEqual(bits[0], bits[1], "eval_sums \(tag): the same pass gave other bits")
        }
    }

    /// Evaluation finds a dead output by its sum being exactly 0 (outputs are never negative): a column of
    /// zeros sums to 0, and one with a single output of the smallest normal float does not.
    func testEvalSumsOfAColumnOfZerosIsZeroAndOfOneTinyOutputIsNot() throws {
        let rows = 9, columns = 37
        var p = randomFloats(rows * columns, seed: 160, 0.25, 1)
        for r in 0..<rows { p[r * columns + 3] = 0; p[r * columns + 20] = 0 }
        p[(rows - 1) * columns + 20] = .leastNormalMagnitude
        for (tag, kernels) in [("device", kernels!)] + gpuVariants() {
            let (pb, tb, sb) = (try input(p, "pred"), try input(randomFloats(rows * columns, seed: 161, 0, 1), "target"),
                                try input([Float](repeating: 0, count: 2 * columns), "sums"))
            try run { try kernels.evalSums($0, pred: pb.whole, target: tb.whole, sums: sb.whole, rows: rows, columns: columns) }
            let outputSums = Array(try result(sb, 2 * columns)[columns...])
            XCTAssertEqual(outputSums.indices.filter { outputSums[$0] == 0 }, [3], "eval_sums \(tag): columns summing to 0")
            XCTAssertEqual(outputSums[20], .leastNormalMagnitude, "eval_sums \(tag): a lone tiny output")
        }
    }
}
