// eval_sums: what evaluating a test set needs of each batch's outputs (per column, the squared errors and
// the outputs summed), added on the device so that a pass reads back 2 x columns floats once.
// The op's CPU reference (the specification its test holds the shader to), the host mirror of its
// push constants, and its recording.

extension Reference {
    /// `sums` (2 x columns) after a [rows, columns] batch: sums[c] + sum_r (pred[r][c] - target[r][c])^2 and
    /// sums[columns + c] + sum_r pred[r][c], the rows in order (eval_sums.comp).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func evalSums<T: BinaryFloatingPoint>(_ pred: [T], _ target: [T], rows: Int, columns: Int, sums: [T]) -> [T] {
        precondition(pred.count >= rows * columns && target.count >= rows * columns && sums.count == 2 * columns,
                     "evalSums: \(pred.count) outputs, \(target.count) targets, \(sums.count) sums for \(rows) rows of \(columns)")
        return (0..<(2 * columns)).map { i in
            let c = i % columns
            let batch = (0..<rows).reduce(T(0)) { s, r in
                let o = pred[r * columns + c]
                return i < columns ? s + (o - target[r * columns + c]) * (o - target[r * columns + c]) : s + o
            }
            return sums[i] + batch
        }
    }
}

struct EvalSumsParams { var rows: UInt32; var columns: UInt32 }

extension Kernels {
    /// sums[c] += the batch's squared errors in column c, sums[columns + c] += its outputs in column c.
    public func evalSums(_ seq: CommandSequence, pred: BufferRange, target: BufferRange, sums: BufferRange, rows: Int, columns: Int) throws {
        try seq.dispatch(pipeline("eval_sums", 3, EvalSumsParams.self), [pred, target, sums],
                         push: EvalSumsParams(rows: UInt32(rows), columns: UInt32(columns)), invocations: 2 * columns, macs: 2 * rows * columns)
    }
}
