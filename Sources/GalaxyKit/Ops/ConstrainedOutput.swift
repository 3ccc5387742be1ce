/// The Galaxy Zoo constrained output layer (after Dieleman, see DESIGN.md "Galaxy Zoo decision tree"):
/// z [batch, 37] pre-activations to p [batch, 37] answers that obey the decision tree.
/// Shaders: constrained_output_forward.comp, constrained_output_backward.comp.

// Host mirror of both shaders' push-constant block.
struct ConstrainedOutputParams { var batch: UInt32 }

extension Reference {
    /// Added to each question's answer sum so that a question whose answers are all <= 0 gives
    /// 0/eps = 0 rather than 0/0. The shaders use the same value (why 1e-12: see the forward shader).
    static let constrainedOutputEpsilon = 1e-12

    /// One row of the forward pass: a_i = max(z_i, 0); s_q = sum_{j in q} a_j + eps; n_i = a_i / s_q;
    /// p_i = n_i for Q1 and Q6, p_i = n_i * p[parentColumn[q]] for the others, in scaling order.
    static func constrainedOutputRow<T: BinaryFloatingPoint>(_ z: ArraySlice<T>) -> (n: [T], s: [T], p: [T]) {
        let tree = GalaxyZooTree.self
        precondition(z.count == tree.answerCount)
        let a = z.map { max($0, 0) }
        var n = [T](repeating: 0, count: tree.answerCount)
        var s = [T](repeating: 0, count: tree.questionRanges.count)
        for (q, range) in tree.questionRanges.enumerated() {
            var sum: T = 0
            for c in range { sum += a[c] }
            s[q] = sum + T(constrainedOutputEpsilon)
            for c in range { n[c] = a[c] / s[q] }
        }
        var p = n
        for q in tree.scalingOrder {
            let parent = tree.parentColumn[q]!
            for c in tree.questionRanges[q] { p[c] = n[c] * p[parent] }
        }
        return (n, s, p)
    }

    /// p[b, :] = constrained output of z[b, :]  (z and p are [batch, 37])
    public static func constrainedOutputForward<T: BinaryFloatingPoint>(_ z: [T], batch: Int) -> [T] {
        let width = GalaxyZooTree.answerCount
        precondition(z.count == batch * width, "constrainedOutputForward: \(z.count) values for batch \(batch)")
        var p: [T] = []
        p.reserveCapacity(z.count)
        for b in 0..<batch { p += constrainedOutputRow(z[b * width ..< (b + 1) * width]).p }
        return p
    }

    /// dz = (d p / d z)^T dp per row  (z, dp and dz are [batch, 37]).
    /// Through the scalings in reverse order: g = dp; for q in reversed(scalingOrder), with parent k,
    /// g[k] += sum_{i in q} g_i * n_i and then dn_i = g_i * p[k] (Q1, Q6: dn_i = g_i). By then every
    /// child of column i has been undone, so g_i is complete. Through the normalization:
    /// dn_i / da_j = (delta_ij - n_i) / s_q, so da_i = (dn_i - sum_{j in q} dn_j n_j) / s_q.
    /// Through max(., 0): dz_i = da_i where z_i > 0, else 0 (as ReLU).
    public static func constrainedOutputBackward<T: BinaryFloatingPoint>(_ z: [T], _ dp: [T], batch: Int) -> [T] {
        let tree = GalaxyZooTree.self
        let width = tree.answerCount
        precondition(z.count == batch * width && dp.count == z.count, "constrainedOutputBackward: sizes for batch \(batch)")
        var dz = [T](repeating: 0, count: z.count)
        for b in 0..<batch {
            let base = b * width
            let (n, s, p) = constrainedOutputRow(z[base ..< base + width])
            var g = Array(dp[base ..< base + width])
            for q in tree.scalingOrder.reversed() {
                let parent = tree.parentColumn[q]!
                for c in tree.questionRanges[q] {
                    g[parent] += g[c] * n[c]
                    g[c] *= p[parent]
                }
            }
            for (q, range) in tree.questionRanges.enumerated() {
                var dot: T = 0
                for c in range { dot += g[c] * n[c] }
                for c in range where z[base + c] > 0 { dz[base + c] = (g[c] - dot) / s[q] }
            }
        }
        return dz
    }
}

extension Kernels {
    /// p = constrained output of z, both [batch, 37]; one invocation per row.
    public func constrainedOutputForward(_ seq: CommandSequence, z: BufferRange, p: BufferRange, batch: Int) throws {
        let pipeline = try context.pipeline("constrained_output_forward", bindings: 2,
                                            pushSize: MemoryLayout<ConstrainedOutputParams>.size, specialization: [tiles.workgroupSize])
        try seq.dispatch(pipeline, [z, p], push: ConstrainedOutputParams(batch: UInt32(batch)), invocations: batch)
    }

    /// dz = gradient wrt z given z and dp (the gradient wrt the forward's p), all [batch, 37].
    public func constrainedOutputBackward(_ seq: CommandSequence, z: BufferRange, dp: BufferRange, dz: BufferRange, batch: Int) throws {
        let pipeline = try context.pipeline("constrained_output_backward", bindings: 3,
                                            pushSize: MemoryLayout<ConstrainedOutputParams>.size, specialization: [tiles.workgroupSize])
        try seq.dispatch(pipeline, [z, dp, dz], push: ConstrainedOutputParams(batch: UInt32(batch)), invocations: batch)
    }
}
