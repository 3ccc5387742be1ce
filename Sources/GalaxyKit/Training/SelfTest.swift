import Foundation

/// `galaxy selftest`: the correctness checks of `make test` for a machine that has a GPU but no Swift
/// toolchain (the GPU kit). Every GEMM-shaped, elementwise and loss shader runs on random inputs at the test
/// shapes, in each tile configuration asked for, into poisoned outputs, and is compared with its
/// Float64 CPU reference under the float32 bound the tests use; then the whole network is compared with
/// PyTorch's golden training step and, in the constrained output mode, with the reference network.
public final class SelfTest {
    public struct Check: Sendable {
        public var name: String
        /// Worst |error| / bound over the outputs (at most 1 to pass); 0 for exact comparisons.
        public var worst: Double
        public var failure: String?
        public var passed: Bool { failure == nil }
    }

    public let context: VulkanContext
    public private(set) var checks: [Check] = []
    public var log: (String) -> Void = { _ in }

    public init(context: VulkanContext) { self.context = context }

    /// The kernel paths the checks (and the op tests) run: the device's own; the narrow share tiles where the
    /// device runs the share path; the portable path (lavapipe at other lane counts, and a few images'
    /// inference there) unless it is the device's; and the shared-memory path unsplit at 64 invocations per
    /// workgroup and with split reductions at 128 and 256.
    public static func configurations(_ info: DeviceInfo) -> [(String, KernelPath)] {
        let own = KernelPath.forDevice(info)
        var out = [("device", own)]
        if own == .subgroupShare() { out.append(("lavapipe narrow", .subgroupShare(.narrow))) }
        if own != .portable() { out.append(("portable", .portable())) }
        var unsplit = SharedMemoryTiles()
        unsplit.workgroupSize = 64
        unsplit.bounds = ReductionBounds(minInvocations: 1, maxSerialMACs: .max)
        out.append(("tiled unsplit wg64", .sharedMemory(unsplit)))
        for wg: UInt32 in [128, 256] where !(own == .sharedMemory() && wg == SharedMemoryTiles().workgroupSize) {
            var t = SharedMemoryTiles()
            // Split until 16,384 invocations, not 1,024 workgroups: on lavapipe hundreds of chunks of barriers
            // cost seconds per case (the device's own configuration keeps the rule on a GPU).
            (t.workgroupSize, t.bounds.minWorkgroups) = (wg, 0)
            out.append(("gpu wg\(wg)", .sharedMemory(t)))
        }
        return out
    }

    // The shapes of the op tests (Conv2dTests, LinearTests, SGEMMTests, MaxPool2dTests use these lists).
    public static let conv2dShapes: [Conv2dShape] = [
        Conv2dShape(batch: 1, inChannels: 3, outChannels: 5, inHeight: 9, inWidth: 11, kernel: 6),
        Conv2dShape(batch: 2, inChannels: 4, outChannels: 9, inHeight: 12, inWidth: 10, kernel: 5),
        Conv2dShape(batch: 3, inChannels: 7, outChannels: 8, inHeight: 7, inWidth: 13, kernel: 3),
        Conv2dShape(batch: 2, inChannels: 1, outChannels: 1, inHeight: 3, inWidth: 3, kernel: 3),
        Conv2dShape(batch: 5, inChannels: 3, outChannels: 32, inHeight: 21, inWidth: 21, kernel: 6),
        // Over 64 channels each way with K = 3: the wide, row-unrolled lavapipe tiles, a partial channel block.
        Conv2dShape(batch: 2, inChannels: 67, outChannels: 70, inHeight: 5, inWidth: 37, kernel: 3),
    ]
    public static let linearShapes: [LinearShape] = [
        LinearShape(batch: 1, inFeatures: 7, outFeatures: 3),
        LinearShape(batch: 5, inFeatures: 33, outFeatures: 10),
        LinearShape(batch: 3, inFeatures: 64, outFeatures: 37),
        LinearShape(batch: 9, inFeatures: 130, outFeatures: 66),
        LinearShape(batch: 6, inFeatures: 128, outFeatures: 9),  // vec4 rows
        // vec4 everywhere; dy^T read as vec4 along 12 outputs (a half-filled 8-row block), batch tail of 2.
        LinearShape(batch: 10, inFeatures: 68, outFeatures: 12),
        // A second, partial 64-row block of the SHARE tiles along batch (forward, backward_input) and outputs
        // (backward_weight, whose dy^T is read as vec4s: 68 % 4 == 0).
        LinearShape(batch: 70, inFeatures: 36, outFeatures: 68),
        LinearShape(batch: 12, inFeatures: 3200, outFeatures: 128),  // fc1's layer at a smaller batch
    ]
    public static let gemmShapes: [GemmShape] = [
        GemmShape(m: 1, n: 1, k: 1),
        GemmShape(m: 3, n: 5, k: 2),          // smaller than one vec4 step of k
        GemmShape(m: 7, n: 13, k: 5),         // scalar A and B, one k step of 4 and a tail of 1
        GemmShape(m: 9, n: 70, k: 33),        // a second row block and column block, mostly idle lanes
        GemmShape(m: 13, n: 36, k: 12),       // vec4 A and B, columns and rows past the edge
        GemmShape(m: 17, n: 68, k: 130),      // vec4 B, scalar-tail k after vec4 A is ruled out
        GemmShape(m: 12, n: 132, k: 66),      // vec4 B only (k % 4 == 2), three column blocks
        GemmShape(m: 16, n: 64, k: 128),      // whole tiles
        GemmShape(m: 40, n: 192, k: 100),     // several column blocks, a partial second row block
        GemmShape(m: 128, n: 256, k: 64),     // whole tiles
        GemmShape(m: 65, n: 127, k: 7),       // one row past a 64-row block, one column short of 128
    ]
    public static let poolShapes: [PoolShape] = [
        PoolShape(planes: 1, height: 2, width: 2),
        PoolShape(planes: 3, height: 7, width: 9),
        PoolShape(planes: 10, height: 8, width: 6),
        PoolShape(planes: 33, height: 13, width: 12),
        PoolShape(planes: 5, height: 6, width: 8),    // vec4 rows, whole windows
        PoolShape(planes: 7, height: 10, width: 10),  // whole windows, vec2 rows
    ]

    // The Dirichlet loss's cases (DirichletTests uses these): the two shipped trees' layouts (11 questions of 2-7 answers;
    // 10 of 2-6) and one 2-question toy, 1 to 70 rows.
    public static let dirichletLayouts: [(String, [Int])] = [("kaggle", AnswerSchema.kaggle.questionStarts), ("decals", AnswerSchema.decalsDR5.questionStarts),
                                             ("toy", [0, 2, 5])]
    public static let dirichletRowCounts = [1, 3, 70]

    /// Pre-activations over the whole useful range and beyond: mostly in [-6, 6], some at +-30 (alpha at its
    /// bounds to float32 precision).
    public static func dirichletLogits(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { i in i % 17 == 3 ? (i % 2 == 0 ? 30 : -30) : rng.uniform(-6, 6) }
    }

    /// Vote counts per question as a DECaLS or GZ2 catalogue has them: none (a question nobody reached), 1, the
    /// usual 5, 40, or up to 2000 votes, spread at random over the answers (many cells 0).
    public static func voteCounts(rows: Int, starts: [Int], seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let width = starts.last!
        var k = [Float](repeating: 0, count: rows * width)
        let totals = [0, 1, 5, 5, 40, 2000]
        for r in 0..<rows {
            for q in 0..<(starts.count - 1) {
                let n = totals[Int(rng.next() % UInt64(totals.count))]
                let answers = starts[q + 1] - starts[q]
                for _ in 0..<n { k[r * width + starts[q] + Int(rng.next() % UInt64(answers))] += 1 }
            }
        }
        return k
    }

    /// Every op in each configuration, then the network checks (`golden`: PyTorch's file, when present).
    public func run(configurations: [(String, KernelPath)], golden: URL?) throws {
        for (tag, path) in configurations {
            let kernels = Kernels(context, path: path)
            try checkConvolutions(kernels, tag)
            try checkLinear(kernels, tag)
            try checkElementwise(kernels, tag)
            try checkDirichlet(kernels, tag)
        }
        // The network in a short run's tiles: on lavapipe the quick ones
        // (checked op by op above) and compile in a fraction of the time.
        let network = Kernels(context, path: .forSmallJob(context.info))
        if let golden { try checkGoldenStep(network, golden) }
        try checkConstrainedNetwork(network)
    }

    // MARK: Recording results

    static let poison = Float(bitPattern: 0x7FC0_DEAD)
    static let guardCount = 37

    private func input(_ values: [Float], _ label: String) throws -> DeviceBuffer {
        let b = try DeviceBuffer(context, floats: values.count + Self.guardCount, label: label)
        try b.upload(values + [Float](repeating: Self.poison, count: Self.guardCount))
        return b
    }

    private func output(_ count: Int, _ label: String) throws -> DeviceBuffer { try input([Float](repeating: Self.poison, count: count), label) }

    private func submit(_ record: (CommandSequence) throws -> Void) throws {
        let seq = try CommandSequence(context)
        try record(seq)
        try seq.submit()
    }

    /// The first `count` floats of `b`, or a failure when one was not written or a guard element was.
    private func result(_ b: DeviceBuffer, _ count: Int) throws -> ([Float], String?) {
        let all: [Float] = try b.download(count: count + Self.guardCount)
        if let bad = all[..<count].firstIndex(where: { !$0.isFinite }) { return ([], "\(b.label)[\(bad)] not written or not finite (\(all[bad]))") }
        if all[count...].contains(where: { $0.bitPattern != Self.poison.bitPattern }) { return ([], "\(b.label): a write past its \(count) elements") }
        return (Array(all[..<count]), nil)
    }

    private func record(_ name: String, _ worst: Double, _ failure: String?) {
        checks.append(Check(name: name, worst: worst, failure: failure))
        log("\(failure == nil ? "ok  " : "FAIL") \(name)" + (failure.map { ": \($0)" } ?? String(format: " (worst error / bound %.3g)", worst)))
    }

    /// Compares `b` with `want` under `bound` (elementwise absolute bounds).
    private func compare(_ name: String, _ b: DeviceBuffer, _ want: [Double], bound: [Double]) throws {
        let (got, failure) = try result(b, want.count)
        if let failure { return record(name, .infinity, failure) }
        var worst = 0.0
        var first: String?
        for i in want.indices {
            let err = abs(Double(got[i]) - want[i])
            worst = max(worst, err / max(bound[i], .leastNonzeroMagnitude))
            if !(err <= bound[i]) && first == nil { first = "[\(i)] got \(got[i]) want \(want[i]) bound \(bound[i])" }
        }
        record(name, worst, first)
    }

    /// The float32 bound of a sum of `terms` products (Higham's gamma, as the tests use).
    static func sumBound(_ absRef: [Double], terms: Int) -> [Double] {
        absRef.map { Double(terms + 2) * 0x1p-24 * $0 + Double.leastNormalMagnitude }
    }

    private func random(_ count: Int, seed: UInt64, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in rng.uniform(lo, hi) }
    }

    // MARK: The ops

    private func checkConvolutions(_ k: Kernels, _ tag: String) throws {
        for (i, s) in Self.conv2dShapes.enumerated() {
            let x = random(s.inputCount, seed: UInt64(100 + i)), w = random(s.weightCount, seed: UInt64(200 + i))
            let b = random(s.outChannels, seed: UInt64(300 + i)), dy = random(s.outputCount, seed: UInt64(400 + i))
            let (xd, wd, bd, dyd) = (x.map(Double.init), w.map(Double.init), b.map(Double.init), dy.map(Double.init))
            let (xa, wa, ba, dya) = (xd.map(abs), wd.map(abs), bd.map(abs), dyd.map(abs))
            let (xb, wb, bb, dyb) = (try input(x, "x"), try input(w, "w"), try input(b, "b"), try input(dy, "dy"))
            let (y, dx, dw, db) = (try output(s.outputCount, "y"), try output(s.inputCount, "dx"), try output(s.weightCount, "dw"), try output(s.outChannels, "db"))
            try submit { seq in
                try k.conv2dForward(seq, x: xb.whole, w: wb.whole, b: bb.whole, y: y.whole, shape: s)
                try k.conv2dBackwardInput(seq, dy: dyb.whole, w: wb.whole, dx: dx.whole, shape: s)
                try k.conv2dBackwardWeight(seq, dy: dyb.whole, x: xb.whole, dw: dw.whole, db: db.whole, shape: s)
            }
            let name = "\(tag) \(s.batch)x\(s.inChannels)x\(s.inHeight)x\(s.inWidth) -> \(s.outChannels) k\(s.kernel)"
            try compare("conv2d_forward \(name)", y, Reference.conv2dForward(xd, wd, bd, s),
                        bound: Self.sumBound(Reference.conv2dForward(xa, wa, ba, s), terms: s.inChannels * s.kernel * s.kernel + 1))
            try compare("conv2d_backward_input \(name)", dx, Reference.conv2dBackwardInput(dyd, wd, s),
                        bound: Self.sumBound(Reference.conv2dBackwardInput(dya, wa, s), terms: s.outChannels * s.kernel * s.kernel))
            let want = Reference.conv2dBackwardWeight(dyd, xd, s), absRef = Reference.conv2dBackwardWeight(dya, xa, s)
            let terms = s.batch * s.outHeight * s.outWidth
            try compare("conv2d_backward_weight dw \(name)", dw, want.dw, bound: Self.sumBound(absRef.dw, terms: terms))
            try compare("conv2d_backward_weight db \(name)", db, want.db, bound: Self.sumBound(absRef.db, terms: terms))
        }
    }

    private func checkLinear(_ k: Kernels, _ tag: String) throws {
        for (i, s) in Self.linearShapes.enumerated() {
            let x = random(s.batch * s.inFeatures, seed: UInt64(10 + i)), w = random(s.outFeatures * s.inFeatures, seed: UInt64(20 + i))
            let b = random(s.outFeatures, seed: UInt64(30 + i)), dy = random(s.batch * s.outFeatures, seed: UInt64(40 + i))
            let (xd, wd, bd, dyd) = (x.map(Double.init), w.map(Double.init), b.map(Double.init), dy.map(Double.init))
            let (xa, wa, ba, dya) = (xd.map(abs), wd.map(abs), bd.map(abs), dyd.map(abs))
            let (xb, wb, bb, dyb) = (try input(x, "x"), try input(w, "w"), try input(b, "b"), try input(dy, "dy"))
            let (y, yr, dx) = (try output(s.batch * s.outFeatures, "y"), try output(s.batch * s.outFeatures, "y relu"), try output(s.batch * s.inFeatures, "dx"))
            let (dw, db) = (try output(s.outFeatures * s.inFeatures, "dw"), try output(s.outFeatures, "db"))
            try submit { seq in
                try k.linearForward(seq, x: xb.whole, w: wb.whole, b: bb.whole, y: y.whole, shape: s)
                try k.linearForward(seq, x: xb.whole, w: wb.whole, b: bb.whole, y: yr.whole, shape: s, relu: true)
                try k.linearBackwardInput(seq, dy: dyb.whole, w: wb.whole, dx: dx.whole, shape: s)
                try k.linearBackwardWeight(seq, dy: dyb.whole, x: xb.whole, dw: dw.whole, db: db.whole, shape: s)
            }
            let name = "\(tag) \(s.batch)x\(s.inFeatures) -> \(s.outFeatures)"
            let forward = Reference.linearForward(xd, wd, bd, s)
            let forwardBound = Self.sumBound(Reference.linearForward(xa, wa, ba, s), terms: s.inFeatures + 1)
            try compare("linear_forward \(name)", y, forward, bound: forwardBound)
            try compare("linear_forward relu \(name)", yr, Reference.reluForward(forward), bound: forwardBound)
            try compare("linear_backward_input \(name)", dx, Reference.linearBackwardInput(dyd, wd, s),
                        bound: Self.sumBound(Reference.linearBackwardInput(dya, wa, s), terms: s.outFeatures))
            let want = Reference.linearBackwardWeight(dyd, xd, s), absRef = Reference.linearBackwardWeight(dya, xa, s)
            try compare("linear_backward_weight dw \(name)", dw, want.dw, bound: Self.sumBound(absRef.dw, terms: s.batch))
            try compare("linear_backward_weight db \(name)", db, want.db, bound: Self.sumBound(absRef.db, terms: s.batch))
        }
        for (i, s) in Self.gemmShapes.enumerated() {
            let a = random(s.m * s.k, seed: UInt64(800 + i)), b = random(s.k * s.n, seed: UInt64(900 + i))
            let (ab, bb, c) = (try input(a, "a"), try input(b, "b"), try output(s.m * s.n, "c"))
            try submit { try k.sgemm($0, a: ab.whole, b: bb.whole, c: c.whole, shape: s) }
            let (ad, bd) = (a.map(Double.init), b.map(Double.init))
            try compare("sgemm \(tag) \(s.m)x\(s.n)x\(s.k)", c, Reference.sgemm(ad, bd, s),
                        bound: Self.sumBound(Reference.sgemm(ad.map(abs), bd.map(abs), s), terms: s.k))
        }
    }

    private func checkElementwise(_ k: Kernels, _ tag: String) throws {
        for (i, (count, chunks)) in [(1, 1), (100, 3), (3457, 17), (4096, 683)].enumerated() {
            let x = random(count * chunks, seed: UInt64(60 + i))
            let (xb, y) = (try input(x, "x"), try output(count, "y"))
            try submit { try k.chunkSum($0, x: xb.whole, y: y.whole, count: count, chunks: chunks) }
            let xd = x.map(Double.init)
            try compare("chunk_sum \(tag) \(count)x\(chunks)", y, Reference.chunkSum(xd, count: count, chunks: chunks),
                        bound: Self.sumBound(Reference.chunkSum(xd.map(abs), count: count, chunks: chunks), terms: chunks))
        }
        for (i, (rows, columns)) in [(1, 1), (128, 37), (17, 300)].enumerated() {
            // Outputs in [0, 1) as the network's, sums that already hold something (the op adds to them).
            let p = random(rows * columns, seed: UInt64(110 + i), 0, 1), t = random(rows * columns, seed: UInt64(120 + i), 0, 1)
            let initial = random(2 * columns, seed: UInt64(130 + i), 0, 1)
            let (pb, tb, sums) = (try input(p, "pred"), try input(t, "target"), try input(initial, "sums"))
            try submit { try k.evalSums($0, pred: pb.whole, target: tb.whole, sums: sums.whole, rows: rows, columns: columns) }
            // Non-negative terms: each square off by 3 roundings at most, rows + 1 additions (sumBound's L = rows + 1).
            let want = Reference.evalSums(p.map(Double.init), t.map(Double.init), rows: rows, columns: columns, sums: initial.map(Double.init))
            try compare("eval_sums \(tag) \(rows)x\(columns)", sums, want, bound: Self.sumBound(want, terms: rows + 1))
        }
        for (i, s) in Self.poolShapes.enumerated() {
            var rng = SplitMix64(seed: UInt64(90 + i))  // few distinct values: ties in windows are common
            let x = (0..<s.inputCount).map { _ in Float(Int(rng.next() % 4)) - 1.5 }
            let dy = random(s.outputCount, seed: UInt64(99 + i))
            let (xb, dyb) = (try input(x, "x"), try input(dy, "dy"))
            let (y, index, dx) = (try output(s.outputCount, "y"), try output(s.outputCount, "index"), try output(s.inputCount, "dx"))
            try submit { seq in
                try k.maxpool2dForward(seq, x: xb.whole, y: y.whole, index: index.whole, shape: s)
                try k.maxpool2dBackward(seq, dy: dyb.whole, index: index.whole, dx: dx.whole, shape: s)
            }
            let want = Reference.maxpool2dForward(x.map(Double.init), s)
            let exact = [Double](repeating: 0, count: s.outputCount)  // a maximum is copied; a gradient is routed, not summed
            try compare("maxpool2d_forward \(tag) \(s.planes)x\(s.height)x\(s.width)", y, want.y, bound: exact)
            let gotIndex = try index.download(UInt32.self, count: s.outputCount)
            record("maxpool2d_forward argmax \(tag) \(s.planes)x\(s.height)x\(s.width)", 0, gotIndex == want.index ? nil : "argmax differs from the reference")
            try compare("maxpool2d_backward \(tag) \(s.planes)x\(s.height)x\(s.width)", dx,
                        Reference.maxpool2dBackward(dy.map(Double.init), want.index, s), bound: [Double](repeating: 0, count: s.inputCount))
        }
        for (i, n) in [1, 777, 4099].enumerated() {
            let x = random(n, seed: UInt64(50 + i)), dy = random(n, seed: UInt64(55 + i)), t = random(n, seed: UInt64(57 + i), 0, 1)
            let (xb, dyb, tb) = (try input(x, "x"), try input(dy, "dy"), try input(t, "target"))
            let (y, dx, loss, grad) = (try output(n, "y"), try output(n, "dx"), try output(1, "loss"), try output(n, "grad"))
            try submit { seq in
                try k.reluForward(seq, x: xb.whole, y: y.whole, count: n)
                try k.reluBackward(seq, y: xb.whole, dy: dyb.whole, dx: dx.whole, count: n)
                try k.mseForward(seq, pred: xb.whole, target: tb.whole, loss: loss.whole, count: n)
                try k.mseBackward(seq, pred: xb.whole, target: tb.whole, grad: grad.whole, count: n, denominator: 3 * n)
            }
            let (xd, td) = (x.map(Double.init), t.map(Double.init))
            let zero = [Double](repeating: 0, count: n)
            try compare("relu_forward \(tag) \(n)", y, Reference.reluForward(xd), bound: zero)
            try compare("relu_backward \(tag) \(n)", dx, Reference.reluBackward(xd, dy.map(Double.init)), bound: zero)
            let squares = zip(xd, td).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            try compare("mse_forward \(tag) \(n)", loss, [Reference.mseForward(xd, td)], bound: Self.sumBound([squares], terms: n))
            // 2 (p - t) / d: a difference, a product and a quotient, each rounded once.
            let want = Reference.mseBackward(xd, td, denominator: 3 * n)
            try compare("mse_backward \(tag) \(n)", grad, want, bound: want.map { 4 * 0x1p-24 * abs($0) + Double.leastNormalMagnitude })
            var w = random(n, seed: UInt64(70 + i)).map(Double.init), buf = random(n, seed: UInt64(75 + i)).map(Double.init)
            let g = random(n, seed: UInt64(80 + i))
            let (wb, bb, gb) = (try input(w.map { Float($0) }, "weights"), try input(buf.map { Float($0) }, "momentum"), try input(g, "grads"))
            try submit { try k.sgdMomentum($0, weights: wb.floats(0, n), grads: gb.floats(0, n), buffer: bb.floats(0, n), count: n, lr: 0.1, momentum: 0.9) }
            let scale = zip(w, buf).map { abs($0) + 0.1 * abs($1) + 0.1 * abs(0.9 * $1) + 1 }
            Reference.sgdMomentum(weights: &w, grads: g.map(Double.init), buffer: &buf, lr: Double(Float(0.1)), momentum: Double(Float(0.9)))
            try compare("sgd_momentum weights \(tag) \(n)", wb, w, bound: scale.map { 8 * 0x1p-24 * $0 })
            // One Adam step from random moments (AdamTests derives the bounds): weights, both moments, the scalars.
            var (am, av) = (random(n, seed: UInt64(85 + i)).map(Double.init), random(n, seed: UInt64(90 + i), 0, 1).map(Double.init))
            var aw = random(n, seed: UInt64(95 + i)).map(Double.init)
            var scalars: [Float] = [0.9, 0.999, 0, 0]
            let (awb, amb, avb, asb) = (try input(aw.map { Float($0) }, "weights"), try input(am.map { Float($0) }, "first moment"),
                                        try input(av.map { Float($0) }, "second moment"), try input(scalars, "Adam scalars"))
            try submit { try k.adam($0, weights: awb.floats(0, n), grads: gb.floats(0, n), first: amb.floats(0, n), second: avb.floats(0, n),
                                    scalars: asb.floats(0, 4), count: n, lr: 0.001, settings: AdamSettings()) }
            let (m0, v0, w0) = (am, av, aw)
            Reference.adam(weights: &aw, grads: g.map(Double.init), first: &am, second: &av, scalars: &scalars, lr: 0.001, settings: AdamSettings())
            try compare("adam first moment \(tag) \(n)", amb, am, bound: zip(m0, g).map { 8 * 0x1p-24 * (abs($0) + 0.1 * abs(Double($1))) })
            try compare("adam second moment \(tag) \(n)", avb, av, bound: zip(v0, g).map { 8 * 0x1p-24 * (abs($0) + 0.001 * Double($1 * $1)) })
            try compare("adam weights \(tag) \(n)", awb, aw, bound: zip(w0, aw).map { 4 * 0x1p-24 * abs($0) + 64 * 0x1p-24 * abs($1 - $0) })
            try compare("adam scalars \(tag)", asb, scalars.map(Double.init), bound: [0, 0] + scalars[2...].map { 4 * 0x1p-24 * Double($0) })
        }
    }

    /// dirichlet_concentration, dirichlet_forward and dirichlet_backward (the vote counts' loss) within DirichletBounds.
    private func checkDirichlet(_ k: Kernels, _ tag: String) throws {
        for n in [1, 37, 4736] {
            let z = Self.dirichletLogits(n, seed: UInt64(n))
            let (zb, alpha) = (try input(z, "z"), try output(n, "alpha"))
            try submit { try k.dirichletConcentration($0, z: zb.whole, alpha: alpha.whole, count: n) }
            let zd = z.map(Double.init)
            try compare("dirichlet_concentration \(tag) \(n)", alpha, Reference.dirichletConcentration(zd), bound: zd.map(DirichletBounds.alphaError))
        }
        for (name, starts) in Self.dirichletLayouts {
            let width = starts.last!, questions = starts.count - 1
            let qb = try input(starts.map { Float(bitPattern: UInt32($0)) }, "question starts")
            for (i, rows) in Self.dirichletRowCounts.enumerated() {
                let z = Self.dirichletLogits(rows * width, seed: UInt64(20 + i)), counts = Self.voteCounts(rows: rows, starts: starts, seed: UInt64(30 + i))
                let (zd, kd) = (z.map(Double.init), counts.map(Double.init))
                let denominators = [rows, 3 * rows + 5]
                let (zb, kb, loss) = (try input(z, "z"), try input(counts, "counts"), try output(1, "loss"))
                let grads = try denominators.map { try output(z.count, "grad / \($0)") }
                try submit { seq in
                    try k.dirichletForward(seq, z: zb.whole, counts: kb.whole, questionStarts: qb.whole, loss: loss.whole, rows: rows, width: width,
                                           questions: questions)
                    for (d, grad) in zip(denominators, grads) {
                        try k.dirichletBackward(seq, z: zb.whole, counts: kb.whole, questionStarts: qb.whole, grad: grad.whole, rows: rows, width: width,
                                                questions: questions, denominator: d)
                    }
                }
                let what = "\(tag) \(name) rows \(rows)"
                try compare("dirichlet_forward \(what)", loss, [Reference.dirichletForward(zd, kd, rows: rows, questionStarts: starts)],
                            bound: [DirichletBounds.forward(zd, kd, rows: rows, starts: starts, workgroup: Int(k.path.workgroupSize))])
                for (d, grad) in zip(denominators, grads) {
                    try compare("dirichlet_backward \(what) / \(d)", grad, Reference.dirichletBackward(zd, kd, rows: rows, questionStarts: starts, denominator: d),
                                bound: DirichletBounds.backward(zd, kd, rows: rows, starts: starts, denominator: d))
                }
            }
        }
    }

    // MARK: The network

    /// max |got - want| / max |want|: error relative to the tensor's own scale.
    static func relativeError(_ got: [Float], _ want: [Double]) -> Double {
        let scale = want.map(abs).max() ?? 0
        let err = zip(got, want).map { abs(Double($0) - $1) }.max() ?? 0
        return err / max(scale, .leastNormalMagnitude)
    }

    private func recordRelative(_ name: String, _ error: Double, limit: Double) {
        record(name, error / limit, error < limit ? nil : String(format: "relative error %.3g over %.0e", error, limit))
    }

    /// PyTorch's golden step (the file of TorchGoldenTests): output, loss and every gradient within 1e-4 of
    /// each tensor's scale, the weights after two SGD steps too, and each step's update within 1e-3.
    private func checkGoldenStep(_ k: Kernels, _ file: URL) throws {
        let g = try SafeTensors.read(file).tensors
        let batch = 4
        let initial = try ModelWeights(from: g, file: file.path, expectedOutputs: 37)
        let net = try DeviceNetwork(kernels: k, outputs: 37, maxBatch: batch, training: true)
        try net.setWeights(initial)
        guard let x = g["batch.input"], let t = g["batch.target"] else { throw GalaxyError.message("\(file.path): no batch.input or batch.target") }
        try net.input.upload(x.values)
        try net.target.upload(t.values)
        let seq = try CommandSequence(context)
        try net.recordForward(seq, batch: batch)
        try net.recordLoss(seq, batch: batch, slot: 0, accumulate: false)
        try net.recordBackward(seq, batch: batch)
        try net.recordUpdate(seq, lr: 0.1, momentum: 0.9)
        try seq.submit()
        func want(_ name: String) throws -> [Double] {
            guard let v = g[name] else { throw GalaxyError.message("\(file.path): no tensor \(name)") }
            return v.values.map(Double.init)
        }
        recordRelative("golden step1.output", Self.relativeError(try net.output.download(count: batch * 37), try want("step1.output")), limit: 1e-4)
        recordRelative("golden step1.loss_sum", Self.relativeError(try net.loss.download(count: 1), try want("step1.loss_sum")), limit: 1e-4)
        let grads = try net.gradients()
        for name in initial.names {
            recordRelative("golden step1.grad.\(name)", Self.relativeError(grads[name] ?? [], try want("step1.grad.\(name)")), limit: 1e-4)
        }
        var before = initial
        for step in 1...2 {
            if step == 2 { try seq.submit() }  // the same recorded step, replayed
            let after = try net.weights()
            for name in initial.names {
                let w = try want("step\(step).after.\(name)")
                recordRelative("golden step\(step).after.\(name)", Self.relativeError(after[name], w), limit: 1e-4)
                let delta = zip(after[name], before[name]).map { $0 - $1 }
                recordRelative("golden step\(step).delta.\(name)", Self.relativeError(delta, zip(w, before[name]).map { $0 - Double($1) }), limit: 1e-3)
            }
            before = after
        }
    }

    /// One forward and backward pass of the device network on random inputs against the Float64 reference
    /// network: the device's output, and each tensor's error relative to its own scale ("output", then
    /// every gradient by weight name). float32 through 8 layers stays within 1e-4 of each scale.
    public func networkErrors(_ k: Kernels, batch: Int, outputMode: OutputMode) throws -> (output: [Float], errors: [(String, Double)]) {
        let weights = ModelWeights(outputs: 37, seed: 8)
        let x = random(batch * SanderDielemanNet.inputCount, seed: 1, -2, 2), t = random(batch * 37, seed: 2, 0, 0.5)
        let net = try DeviceNetwork(kernels: k, outputs: 37, maxBatch: batch, training: true, outputMode: outputMode)
        try net.setWeights(weights)
        try net.input.upload(x)
        try net.target.upload(t)
        let seq = try CommandSequence(context)
        try net.recordForward(seq, batch: batch)
        try net.recordBackward(seq, batch: batch)
        try seq.submit()
        let ref = ReferenceNetwork<Double>(weights, outputMode: outputMode)
        let acts = ref.forward(x.map(Double.init), batch: batch)
        let grads = ref.backward(acts, target: t.map(Double.init), batch: batch)
        let output: [Float] = try net.output.download(count: batch * 37)
        let got = try net.gradients()
        return (output, [("output", Self.relativeError(output, acts.output))]
                    + weights.names.map { ("grad.\($0)", Self.relativeError(got[$0] ?? [], grads[$0] ?? [])) })
    }

    /// The constrained (decision-tree) output layer, which the golden file does not cover.
    private func checkConstrainedNetwork(_ k: Kernels) throws {
        for (name, error) in try networkErrors(k, batch: 5, outputMode: .constrained).errors {
            recordRelative("constrained network \(name)", error, limit: 1e-4)
        }
    }
}
