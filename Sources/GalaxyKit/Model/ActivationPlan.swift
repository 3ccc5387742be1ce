/// What a recorded op is given besides the network: the batch, the loss's batch (a distributed rank's
/// shard divides by the whole batch) and the loss accumulator's slot.
struct OpArguments {
    var batch: Int
    var lossBatch: Int
    var slot = 0
    var accumulate = true
    init(batch: Int, lossBatch: Int? = nil, slot: Int = 0, accumulate: Bool = true) {
        (self.batch, self.lossBatch, self.slot, self.accumulate) = (batch, lossBatch ?? batch, slot, accumulate)
    }
}

/// One op of the network's recorded passes: the activation tensors it reads and writes (parameters,
/// gradients and the loss live in buffers of their own) and how it is recorded.
struct NetworkOp {
    /// `evaluation`: what a test pass adds up per batch instead of reading its outputs back (recorded after
    /// the forward pass, never with the backward one).
    enum Phase { case forward, loss, evaluation, backward }
    let name: String
    let phase: Phase
    let reads: [String]
    let writes: [String]
    let record: (DeviceNetwork, CommandSequence, OpArguments) throws -> Void
}

/// The activation arena's layout: every tensor's lifetime (the first to the last op that touches it, in
/// recording order) follows from the op table, and a tensor may share bytes only with tensors whose
/// lifetimes do not meet. `input`, `target` and `output` live for the whole pass (written before it,
/// read after it). So the pooling backward pass writes the conv output's gradient where the conv output
/// was, and the early layers' gradients reuse what the forward pass no longer needs, with nothing written
/// down by hand.
public struct ActivationPlan: Sendable {
    public struct Tensor: Sendable, Equatable {
        public let name: String
        /// Byte offset in the arena (a multiple of `alignment`) and size for the plan's batch.
        public let offset: Int
        public let bytes: Int
        /// Index of the first and last op that touches it; -1 ... ops.count for the ones alive throughout.
        public let live: ClosedRange<Int>
        public func overlaps(_ other: Tensor) -> Bool { offset < other.offset + other.bytes && other.offset < offset + bytes }
    }

    /// Offsets are multiples of 256 bytes, which satisfies any device's minStorageBufferOffsetAlignment
    /// (VulkanContext checks that the device's is at most that).
    public static let alignment = VulkanContext.bindingAlignment
    /// Alive from before the first op to after the last.
    static let wholePass: Set<String> = ["input", "target", "output"]

    let ops: [NetworkOp]
    public let tensors: [String: Tensor]
    public let arenaBytes: Int
    public var opNames: [String] { ops.map(\.name) }
    public func reads(ofOp i: Int) -> [String] { ops[i].reads }
    public func writes(ofOp i: Int) -> [String] { ops[i].writes }

    /// Lays out the tensors the ops touch (plus the whole-pass ones), `floatsPerImage` each, for `batch`
    /// images: largest first, each at the lowest aligned offset clear of every tensor placed before it
    /// whose lifetime meets its own.
    init(ops: [NetworkOp], floatsPerImage: [String: Int], batch: Int) {
        self.ops = ops
        var live: [String: ClosedRange<Int>] = [:]
        for name in Self.wholePass { live[name] = -1...ops.count }
        for (i, op) in ops.enumerated() {
            for name in op.reads + op.writes where !Self.wholePass.contains(name) {
                live[name] = live[name].map { min($0.lowerBound, i)...max($0.upperBound, i) } ?? i...i
            }
        }
        let a = Self.alignment
        let order = live.keys.sorted {
            let (x, y) = (floatsPerImage[$0]!, floatsPerImage[$1]!)
            return x != y ? x > y : $0 < $1
        }
        var placed: [Tensor] = []
        for name in order {
            let bytes = (4 * batch * floatsPerImage[name]! + a - 1) / a * a
            let range = live[name]!
            // From 0, past the lowest-placed tensor in the way until none is: the first gap that fits.
            let conflicting = placed.filter { $0.live.overlaps(range) }.sorted { $0.offset < $1.offset }
            var offset = 0
            while let hit = conflicting.first(where: { $0.offset < offset + bytes && offset < $0.offset + $0.bytes }) {
                offset = hit.offset + hit.bytes
            }
            placed.append(Tensor(name: name, offset: offset, bytes: bytes, live: range))
        }
        tensors = Dictionary(uniqueKeysWithValues: placed.map { ($0.name, $0) })
        arenaBytes = max(a, placed.map { $0.offset + $0.bytes }.max() ?? 0)
    }
}

extension DeviceNetwork {
    /// Floats per image of every activation tensor, from the layer shapes.
    static func activationSizes(outputs k: Int) -> [String: Int] {
        let n = SanderDielemanNet.self
        let (c1, c2, c3, c4) = (n.conv1(1).outputCount, n.conv2(1).outputCount, n.conv3(1).outputCount, n.conv4(1).outputCount)
        let (q1, q2, q4) = (n.pool1(1).outputCount, n.pool2(1).outputCount, n.pool4(1).outputCount)
        let (h1, h2) = (n.fc1(1).outFeatures, n.fc2(1).outFeatures)
        return ["input": n.inputCount, "target": k, "output": k, "z": k, "dZ": k, "dOut": k,
                "r1": c1, "p1": q1, "i1": q1, "r2": c2, "p2": q2, "i2": q2, "r3": c3, "r4": c4, "p4": q4, "i4": q4, "f1": h1, "f2": h2,
                "dF2": h2, "dF1": h1, "dP4": q4, "dR4": c4, "dR3": c3, "dP2": q2, "dR2": c2, "dP1": q1, "dR1": c1, "dInput": n.inputCount]
    }

    /// The declared op table of SanderDielemanNet: forward, loss, evaluation and (when training) backward, in
    /// recording order, with the activation tensors each op reads and writes. ReLU-then-pool layers take
    /// the ReLU's mask from the pooled value (the max of a window is positive exactly when the ReLU passed
    /// it), so no conv output is needed after its pooling. A saliency network (never a training one) records
    /// instead a backward pass that starts from the output gradient the host put in `target`, computes no
    /// weight gradient, and goes on through conv1 to the input's gradient, `dInput`.
    /// `frozenConvolutions` (training only): the backward pass stops at fc1's weight gradient: no convolution's
    /// gradient (weights or input) is computed, so SGD leaves them as they are (their gradients and momentum stay 0).
    static func ops(outputs k: Int, mode: OutputMode, training: Bool, saliency: Bool = false, frozenConvolutions: Bool = false) -> [NetworkOp] {
        precondition(!(training && saliency), "a network is recorded for training or for saliency, not both")
        let n = SanderDielemanNet.self
        var ops: [NetworkOp] = []
        func op(_ name: String, _ phase: NetworkOp.Phase, reads: [String], writes: [String],
                _ record: @escaping (DeviceNetwork, CommandSequence, OpArguments) throws -> Void) {
            ops.append(NetworkOp(name: name, phase: phase, reads: reads, writes: writes, record: record))
        }
        func conv(_ layer: String, _ x: String, _ y: String, _ shape: @escaping (Int) -> Conv2dShape) {
            op("\(layer).forward", .forward, reads: [x], writes: [y]) { net, seq, a in
                try net.kernels.conv2dForward(seq, x: net.tensor(x), w: net.param("\(layer).weight"), b: net.param("\(layer).bias"), y: net.tensor(y),
                                              shape: shape(a.batch), relu: true)
            }
        }
        func pool(_ layer: String, _ x: String, _ y: String, _ index: String, _ shape: @escaping (Int) -> PoolShape) {
            op("\(layer).forward", .forward, reads: [x], writes: [y, index]) { net, seq, a in
                try net.kernels.maxpool2dForward(seq, x: net.tensor(x), y: net.tensor(y), index: net.tensor(index), shape: shape(a.batch))
            }
        }
        func linear(_ layer: String, _ x: String, _ y: String, relu: Bool, _ shape: @escaping (Int) -> LinearShape) {
            op("\(layer).forward", .forward, reads: [x], writes: [y]) { net, seq, a in
                try net.kernels.linearForward(seq, x: net.tensor(x), w: net.param("\(layer).weight"), b: net.param("\(layer).bias"), y: net.tensor(y),
                                              shape: shape(a.batch), relu: relu)
            }
        }
        conv("conv1", "input", "r1", n.conv1)
        pool("pool1", "r1", "p1", "i1", n.pool1)
        conv("conv2", "p1", "r2", n.conv2)
        pool("pool2", "r2", "p2", "i2", n.pool2)
        conv("conv3", "p2", "r3", n.conv3)
        conv("conv4", "r3", "r4", n.conv4)
        pool("pool4", "r4", "p4", "i4", n.pool4)
        linear("fc1", "p4", "f1", relu: true, n.fc1)
        linear("fc2", "f1", "f2", relu: true, n.fc2)
        let form = mode.constrainedForm
        let dirichlet = mode == .dirichlet
        if dirichlet {
            linear("fc3", "f2", "z", relu: false) { n.fc3($0, outputs: k) }
            op("output.forward", .forward, reads: ["z"], writes: ["output"]) { net, seq, a in
                try net.kernels.dirichletConcentration(seq, z: net.tensor("z"), alpha: net.tensor("output"), count: a.batch * k)
            }
        } else if let form {
            linear("fc3", "f2", "z", relu: false) { n.fc3($0, outputs: k) }
            op("output.forward", .forward, reads: ["z"], writes: ["output"]) { net, seq, a in
                try net.kernels.constrainedOutputForward(seq, z: net.tensor("z"), p: net.tensor("output"), batch: a.batch, tree: net.constrainedTree!, form: form)
            }
        } else {
            linear("fc3", "f2", "output", relu: true) { n.fc3($0, outputs: k) }
        }
        if dirichlet {
            op("dirichlet.forward", .loss, reads: ["z", "target"], writes: []) { net, seq, a in
                try net.kernels.dirichletForward(seq, z: net.tensor("z"), counts: net.tensor("target"), questionStarts: net.questionStarts!.whole,
                                                 loss: net.loss.whole, rows: a.batch, width: k, questions: net.questionCount, slot: a.slot, accumulate: a.accumulate)
            }
        } else {
            op("mse.forward", .loss, reads: ["output", "target"], writes: []) { net, seq, a in
                try net.kernels.mseForward(seq, pred: net.tensor("output"), target: net.tensor("target"), loss: net.loss.whole, count: a.batch * k,
                                           slot: a.slot, accumulate: a.accumulate)
            }
        }
        op("eval.sums", .evaluation, reads: ["output", "target"], writes: []) { net, seq, a in
            try net.kernels.evalSums(seq, pred: net.tensor("output"), target: net.tensor("target"), sums: net.evaluationSums.whole, rows: a.batch, columns: k)
        }
        guard training || saliency else { return ops }

        func relu(_ y: String, _ d: String, count: @escaping (Int) -> Int) {
            op("relu.backward(\(d))", .backward, reads: [y, d], writes: [d]) { net, seq, a in
                try net.kernels.reluBackward(seq, y: net.tensor(y), dy: net.tensor(d), dx: net.tensor(d), count: count(a.batch))
            }
        }
        func linearBack(_ layer: String, _ dy: String, _ x: String, _ dx: String, input: Bool = true, _ shape: @escaping (Int) -> LinearShape) {
            if training {
                op("\(layer).backward_weight", .backward, reads: [dy, x], writes: []) { net, seq, a in
                    try net.kernels.linearBackwardWeight(seq, dy: net.tensor(dy), x: net.tensor(x), dw: net.grad("\(layer).weight"),
                                                         db: net.grad("\(layer).bias"), shape: shape(a.batch))
                }
            }
            guard input else { return }
            op("\(layer).backward_input", .backward, reads: [dy], writes: [dx]) { net, seq, a in
                try net.kernels.linearBackwardInput(seq, dy: net.tensor(dy), w: net.param("\(layer).weight"), dx: net.tensor(dx), shape: shape(a.batch))
            }
        }
        func convBackWeight(_ layer: String, _ dy: String, _ x: String, _ shape: @escaping (Int) -> Conv2dShape) {
            guard training else { return }
            op("\(layer).backward_weight", .backward, reads: [dy, x], writes: []) { net, seq, a in
                try net.kernels.conv2dBackwardWeight(seq, dy: net.tensor(dy), x: net.tensor(x), dw: net.grad("\(layer).weight"), db: net.grad("\(layer).bias"),
                                                     shape: shape(a.batch))
            }
        }
        func convBackInput(_ layer: String, _ dy: String, _ dx: String, _ shape: @escaping (Int) -> Conv2dShape) {
            op("\(layer).backward_input", .backward, reads: [dy], writes: [dx]) { net, seq, a in
                try net.kernels.conv2dBackwardInput(seq, dy: net.tensor(dy), w: net.param("\(layer).weight"), dx: net.tensor(dx), shape: shape(a.batch))
            }
        }
        func poolBack(_ layer: String, _ dy: String, _ index: String, _ dx: String, _ shape: @escaping (Int) -> PoolShape) {
            op("\(layer).backward", .backward, reads: [dy, index], writes: [dx]) { net, seq, a in
                try net.kernels.maxpool2dBackward(seq, dy: net.tensor(dy), index: net.tensor(index), dx: net.tensor(dx), shape: shape(a.batch))
            }
        }
        // The output's gradient: the loss's (training), or the host's in `target` (saliency).
        let dOutput = saliency ? "target" : "dOut"
        if training && dirichlet {
            op("dirichlet.backward", .backward, reads: ["z", "target"], writes: ["dZ"]) { net, seq, a in
                try net.kernels.dirichletBackward(seq, z: net.tensor("z"), counts: net.tensor("target"), questionStarts: net.questionStarts!.whole,
                                                  grad: net.tensor("dZ"), rows: a.batch, width: k, questions: net.questionCount, denominator: a.lossBatch)
            }
        } else if training {
            op("mse.backward", .backward, reads: ["output", "target"], writes: ["dOut"]) { net, seq, a in
                try net.kernels.mseBackward(seq, pred: net.tensor("output"), target: net.tensor("target"), grad: net.tensor("dOut"), count: a.batch * k,
                                            denominator: a.lossBatch * k)
            }
        }
        let dFc3: String
        if dirichlet {
            // The loss's backward gives dZ directly (no saliency network has this head: DeviceNetwork refuses it).
            dFc3 = "dZ"
        } else if let form {
            op("output.backward", .backward, reads: ["z", dOutput], writes: ["dZ"]) { net, seq, a in
                try net.kernels.constrainedOutputBackward(seq, z: net.tensor("z"), dp: net.tensor(dOutput), dz: net.tensor("dZ"), batch: a.batch, tree: net.constrainedTree!, form: form)
            }
            dFc3 = "dZ"
        } else {
            op("relu.backward(dOut)", .backward, reads: ["output", dOutput], writes: ["dOut"]) { net, seq, a in
                try net.kernels.reluBackward(seq, y: net.tensor("output"), dy: net.tensor(dOutput), dx: net.tensor("dOut"), count: a.batch * k)
            }
            dFc3 = "dOut"
        }
        linearBack("fc3", dFc3, "f2", "dF2") { n.fc3($0, outputs: k) }
        relu("f2", "dF2") { $0 * n.fc2(1).outFeatures }
        linearBack("fc2", "dF2", "f1", "dF1", n.fc2)
        relu("f1", "dF1") { $0 * n.fc1(1).outFeatures }
        if training && frozenConvolutions {
            linearBack("fc1", "dF1", "p4", "dP4", input: false, n.fc1)
            return ops
        }
        linearBack("fc1", "dF1", "p4", "dP4", n.fc1)
        relu("p4", "dP4") { n.pool4($0).outputCount }
        poolBack("pool4", "dP4", "i4", "dR4", n.pool4)
        convBackWeight("conv4", "dR4", "r3", n.conv4)
        convBackInput("conv4", "dR4", "dR3", n.conv4)
        relu("r3", "dR3") { n.conv3($0).outputCount }
        convBackWeight("conv3", "dR3", "p2", n.conv3)
        convBackInput("conv3", "dR3", "dP2", n.conv3)
        relu("p2", "dP2") { n.pool2($0).outputCount }
        poolBack("pool2", "dP2", "i2", "dR2", n.pool2)
        convBackWeight("conv2", "dR2", "p1", n.conv2)
        convBackInput("conv2", "dR2", "dP1", n.conv2)
        relu("p1", "dP1") { n.pool1($0).outputCount }
        poolBack("pool1", "dP1", "i1", "dR1", n.pool1)
        // Training needs no input gradient; saliency needs nothing else.
        convBackWeight("conv1", "dR1", "input", n.conv1)
        if saliency { convBackInput("conv1", "dR1", "dInput", n.conv1) }
        return ops
    }
}
