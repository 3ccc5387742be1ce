import Foundation

/// The decision-tree constrained output layer (after Dieleman, see docs/output-layer.md) of any schema:
/// z [batch, k] pre-activations to p [batch, k] answers that obey the tree (k = the schema's answer count).
/// Shaders: constrained_output_forward.comp, constrained_output_backward.comp (the tree: decision_tree.glsl).
///
/// Each question's answers are made non-negative (a_i = f(z_i)), normalized (n_i = a_i / sum_q a_j),
/// then scaled by the parent answer's p in the schema's `treeOrder`. Two forms of f:
/// - `.softplus` (the default): f = softplus, strictly positive with a gradient everywhere, so every
///   question sums to its parent's value and no question can die.
/// - `.relu`: f = max(., 0), the first form. A question whose z are all <= 0 outputs zeros and gets
///   no gradient, so it never comes back. Kept so that checkpoints trained with it predict as trained.

/// Shader specialization constant FORM (constant_id 1) of both constrained-output shaders.
public enum ConstrainedOutputForm: UInt32, Sendable, CaseIterable {
    case relu = 0
    case softplus = 1
}

// Host mirror of both shaders' push-constant block.
struct ConstrainedOutputParams { var batch: UInt32 }

/// A schema as decision_tree.glsl's specialization constants (ids 2...): QUESTIONS, ANSWERS, QSTART[0...24]
/// (unused: ANSWERS), PARENT[0..<24] (-1: asked of everyone, and unused), ORDER[0..<24] (the schema's treeOrder).
enum ConstrainedOutputTree {
    /// decision_tree.glsl's MAX_QUESTIONS.
    static let maxQuestions = 24

    /// The constants after FORM; an error names the schema when it has more questions than the shaders hold.
    static func specialization(_ tree: AnswerSchema) throws -> [UInt32] {
        let m = maxQuestions, q = tree.questions.count
        guard q <= m else {
            throw GalaxyError.message("the constrained output layer takes trees of up to \(m) questions; the schema \"\(tree.name)\" has \(q)")
        }
        let starts = tree.questionStarts + [Int](repeating: tree.answerCount, count: m + 1 - tree.questionStarts.count)
        let parents = tree.parentColumn.map { $0 ?? -1 } + [Int](repeating: -1, count: m - q)
        let order = tree.treeOrder + [Int](repeating: 0, count: m - q)
        return [UInt32(q), UInt32(tree.answerCount)] + starts.map { UInt32($0) } + parents.map { UInt32(bitPattern: Int32($0)) } + order.map { UInt32($0) }
    }
}

extension Reference {
    /// Relu form: added to each question's answer sum so that a question whose answers are all <= 0
    /// gives 0/eps = 0 rather than 0/0. The shaders use the same value (why 1e-12: constrained_output.glsl).
    static let constrainedOutputEpsilon = 1e-12

    /// Softplus form: below this z, softplus(z) = log1p(e^z) is e^z to a relative 1e-9 (e^z / 2),
    /// far below float32 rounding, and is computed as e^z. A question whose largest z is below it is
    /// normalized as exp(z_i - max z) / sum exp(z_j - max z), which equals the softplus ratios to that
    /// relative 1e-9 and never underflows: such a question still sums to its parent's value.
    public static let softplusTail = -20.0

    /// fc3 biases whose decision-tree outputs are `means` (the training targets' column means) when the layer
    /// below adds nothing: per question, f(b_i) = scale x (mean_i / sum of the question's means), so each
    /// answer's share of its question is its mean's, and the tree's scaling by the parent answer gives back
    /// the means wherever they obey the tree (each question's answers summing to their parent answer's mean,
    /// as Galaxy Zoo's fractions do). f is softplus (b = log(e^y - 1)) or max(., 0) (b = y). A share is at
    /// least 1e-4 of its question, so that no answer starts at softplus's far tail or at the relu form's 0.
    /// `scale` sets how far above 0 the answers start: the larger, the less the rest of fc3's sum moves the shares.
    public static func constrainedOutputBias(means: [Double], tree: AnswerSchema, form: ConstrainedOutputForm, scale: Double) -> [Double] {
        precondition(means.count == tree.answerCount)
        var bias = [Double](repeating: 0, count: means.count)
        for range in tree.questionRanges {
            let shares = range.map { max(means[$0], 0) }
            let total = shares.reduce(0, +)
            for (c, m) in zip(range, shares) {
                let y = scale * max(total > 0 ? m / total : 1 / Double(range.count), 1e-4)
                bias[c] = form == .softplus ? (y > 30 ? y : log(expm1(y))) : y
            }
        }
        return bias
    }

    /// softplus(x) = log(1 + e^x), computed without overflow; and softplus'(x) / softplus(x).
    static func softplus(_ x: Double) -> Double { max(x, 0) + log1p(exp(-abs(x))) }
    static func softplusLogDerivative(_ x: Double) -> Double {
        x < softplusTail ? 1 : 1 / (1 + exp(-x)) / softplus(x)
    }

    /// One row of the forward pass in `form`: n = per-question normalized answers with their sums s,
    /// p = the outputs, and for the softplus form r = f'(z) / f(z), so that d n_i / d z_j =
    /// r_j n_j (delta_ij - n_i) within a question (the relu form's backward uses s instead; r is 0).
    static func constrainedOutputRow<T: BinaryFloatingPoint>(_ z: ArraySlice<T>, tree: AnswerSchema, form: ConstrainedOutputForm)
        -> (n: [T], s: [T], p: [T], r: [T]) {
        precondition(z.count == tree.answerCount)
        let zd = z.map { Double($0) }
        var a = [Double](repeating: 0, count: tree.answerCount)
        var r = [Double](repeating: 0, count: tree.answerCount)
        var n = [T](repeating: 0, count: tree.answerCount)
        var s = [T](repeating: 0, count: tree.questionRanges.count)
        for (q, range) in tree.questionRanges.enumerated() {
            switch form {
            case .relu:
                for c in range { a[c] = max(zd[c], 0) }
            case .softplus:
                let top = range.map { zd[$0] }.max()!
                for c in range {
                    a[c] = top < softplusTail ? exp(zd[c] - top) : softplus(zd[c])
                    r[c] = top < softplusTail ? 1 : softplusLogDerivative(zd[c])
                }
            }
            var sum = 0.0
            for c in range { sum += a[c] }
            if form == .relu { sum += constrainedOutputEpsilon }
            s[q] = T(sum)
            for c in range { n[c] = T(a[c] / sum) }
        }
        var p = n
        for q in tree.treeOrder {
            guard let parent = tree.parentColumn[q] else { continue }
            for c in tree.questionRanges[q] { p[c] = n[c] * p[parent] }
        }
        return (n, s, p, r.map { T($0) })
    }

    /// p[b, :] = constrained output of z[b, :] in `tree`  (z and p are [batch, k])
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func constrainedOutputForward<T: BinaryFloatingPoint>(_ z: [T], batch: Int, tree: AnswerSchema, form: ConstrainedOutputForm) -> [T] {
        let width = tree.answerCount
        precondition(z.count == batch * width, "constrainedOutputForward: \(z.count) values for batch \(batch)")
        var p: [T] = []
        p.reserveCapacity(z.count)
        for b in 0..<batch { p += constrainedOutputRow(z[b * width ..< (b + 1) * width], tree: tree, form: form).p }
        return p
    }

    /// dz = (d p / d z)^T dp per row  (z, dp and dz are [batch, k]).
    /// Through the scalings in reverse order: g = dp; for q in reversed(treeOrder), with parent k,
    /// g[k] += sum_{i in q} g_i * n_i and then dn_i = g_i * p[k] (a question without parent: dn_i = g_i). By then every
    /// child of column i has been undone, so g_i is complete. Through the normalization:
    /// dn_i / da_j = (delta_ij - n_i) / s_q, so da_i = (dn_i - sum_{j in q} dn_j n_j) / s_q, and
    /// dz_i = f'(z_i) da_i = r_i n_i (dn_i - dot) (relu: (dn_i - dot) / s_q where z_i > 0, else 0).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func constrainedOutputBackward<T: BinaryFloatingPoint>(_ z: [T], _ dp: [T], batch: Int, tree: AnswerSchema,
                                                                         form: ConstrainedOutputForm) -> [T] {
        let width = tree.answerCount
        precondition(z.count == batch * width && dp.count == z.count, "constrainedOutputBackward: sizes for batch \(batch)")
        var dz = [T](repeating: 0, count: z.count)
        for b in 0..<batch {
            let base = b * width
            let (n, s, p, r) = constrainedOutputRow(z[base ..< base + width], tree: tree, form: form)
            var g = Array(dp[base ..< base + width])
            for q in tree.treeOrder.reversed() {
                guard let parent = tree.parentColumn[q] else { continue }
                for c in tree.questionRanges[q] {
                    g[parent] += g[c] * n[c]
                    g[c] *= p[parent]
                }
            }
            for (q, range) in tree.questionRanges.enumerated() {
                var dot: T = 0
                for c in range { dot += g[c] * n[c] }
                for c in range {
                    switch form {
                    case .relu: if z[base + c] > 0 { dz[base + c] = (g[c] - dot) / s[q] }
                    case .softplus: dz[base + c] = r[c] * n[c] * (g[c] - dot)
                    }
                }
            }
        }
        return dz
    }
}

extension Kernels {
    /// p = constrained output of z in `tree` and `form`, both [batch, k]; one invocation per row.
    public func constrainedOutputForward(_ seq: CommandSequence, z: BufferRange, p: BufferRange, batch: Int, tree: AnswerSchema,
                                         form: ConstrainedOutputForm) throws {
        let pipeline = try self.pipeline("constrained_output_forward", 2, ConstrainedOutputParams.self,
                                         [form.rawValue] + ConstrainedOutputTree.specialization(tree))
        try seq.dispatch(pipeline, [z, p], push: ConstrainedOutputParams(batch: UInt32(batch)), invocations: batch)
    }

    /// dz = gradient wrt z given z and dp (the gradient wrt the forward's p), all [batch, k].
    public func constrainedOutputBackward(_ seq: CommandSequence, z: BufferRange, dp: BufferRange, dz: BufferRange, batch: Int, tree: AnswerSchema,
                                          form: ConstrainedOutputForm) throws {
        let pipeline = try self.pipeline("constrained_output_backward", 3, ConstrainedOutputParams.self,
                                         [form.rawValue] + ConstrainedOutputTree.specialization(tree))
        try seq.dispatch(pipeline, [z, dp, dz], push: ConstrainedOutputParams(batch: UInt32(batch)), invocations: batch)
    }
}
