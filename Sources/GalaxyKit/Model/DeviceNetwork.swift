/// The network's last layer: the seed's ReLU, or Dieleman's decision-tree layer (37 outputs only) in
/// one of its two forms (see ConstrainedOutput.swift). The raw value is what checkpoints' metadata and
/// run state record: "constrained" is the first (relu) form, as every checkpoint written before the
/// softplus form records it, so those keep predicting and resuming with the form they were trained in.
public enum OutputMode: String, Codable, Sendable, CaseIterable {
    case relu
    /// Softplus before the normalization: every question always sums to its parent's value.
    case constrained = "constrained-softplus"
    /// max(., 0) before the normalization: a question whose outputs all fall <= 0 dies.
    case constrainedReLU = "constrained"
    /// Dirichlet concentrations 1 + 99 sigmoid(z) per answer, trained with the Dirichlet-multinomial likelihood
    /// of vote counts (`--loss dirichlet`, Dirichlet.swift).
    case dirichlet

    /// The output layers of the MSE loss, which `--output` offers (and tests go through). `.dirichlet` is not
    /// among them: it comes with its loss (`--loss dirichlet`), on vote counts.
    public static let allCases: [OutputMode] = [.relu, .constrained, .constrainedReLU]

    /// The mode recorded in a checkpoint's metadata (checkpoints without one are the seed's ReLU).
    public init(metadata: [String: String], file: String) throws {
        guard let raw = metadata["output"] else { self = .relu; return }
        guard let mode = OutputMode(rawValue: raw) else {
            throw SafeTensorsError(file: file, reason: "unknown output mode \"\(raw)\" in metadata (a newer galaxy may have written it)")
        }
        self = mode
    }

    /// The name `galaxy train --output` takes.
    public var argument: String {
        switch self {
        case .relu: "relu"
        case .constrained: "constrained"
        case .constrainedReLU: "constrained-relu"
        case .dirichlet: "dirichlet"
        }
    }

    public init?(argument: String) {
        guard let mode = Self.allCases.first(where: { $0.argument == argument }) else { return nil }
        self = mode
    }

    /// The constrained layer's form, nil for the seed's ReLU output.
    public var constrainedForm: ConstrainedOutputForm? {
        switch self {
        case .relu: nil
        case .constrained: .softplus
        case .constrainedReLU: .relu
        case .dirichlet: nil
        }
    }
}

/// SanderDielemanNet in device buffers: parameters, gradients and momentum packed in one buffer each
/// (one SGD dispatch updates them all), the activations of up to `maxBatch` images in one arena laid
/// out by `ActivationPlan` (tensors whose lifetimes do not meet share bytes), and the recorders of the
/// forward pass, the loss, the backward pass and the SGD update.
public final class DeviceNetwork {
    public let kernels: Kernels
    public let outputs: Int
    public let maxBatch: Int
    public let training: Bool
    /// Records a backward pass from a host-given output gradient down to the input (see `recordSaliency`).
    public let saliency: Bool
    public let outputMode: OutputMode
    /// The schema's question starts (AnswerSchema.questionStarts) as uints: the Dirichlet loss's question layout.
    public let questionStarts: DeviceBuffer?
    public let questionCount: Int
    /// The decision tree of the constrained output layer (nil for the other output layers).
    public let constrainedTree: AnswerSchema?

    /// Float offset of each parameter tensor in `params`/`grads`/`momentum`, 64-float aligned so each
    /// can be bound on its own (256 bytes, VulkanContext.bindingAlignment, satisfies every device's minStorageBufferOffsetAlignment).
    public let offsets: [String: Int]
    public let parameterCount: Int
    public let params: DeviceBuffer
    public let grads: DeviceBuffer?
    /// SGD's momentum, or Adam's first moment.
    public let momentum: DeviceBuffer?
    public let optimizer: Optimizer
    public let adamSettings: AdamSettings
    /// Adam's second moment and its step scalars (Reference.adam); nil for SGD.
    public let secondMoment: DeviceBuffer?
    public let adamScalars: DeviceBuffer?

    /// Where each activation tensor lives in `arena`, derived from the op table.
    public let plan: ActivationPlan
    public let arena: DeviceBuffer
    /// Loss accumulators (slot 0: training loss of the epoch so far).
    public let loss: DeviceBuffer
    public static let lossSlots = 4
    /// A test pass's sums (eval_sums): per output column, the squared errors, then the outputs (2 x outputs floats).
    public let evaluationSums: DeviceBuffer

    /// [maxBatch, 3, 69, 69] network input, [maxBatch, outputs] targets and outputs (alive for the whole pass).
    public var input: BufferRange { tensor("input") }
    public var target: BufferRange { tensor("target") }
    public var output: BufferRange { tensor("output") }

    /// `saliency` (not with `training`): the network also records the input-gradient pass of `recordSaliency`.
    /// `questionStarts`: the schema's layout, which a Dirichlet network needs for its loss (training or evaluating).
    /// `tree`: the schema of the constrained output layer (default: `AnswerSchema.implied` by the output count, Kaggle's for 37).
    public init(kernels: Kernels, outputs: Int, maxBatch: Int, training: Bool, outputMode: OutputMode = .relu, saliency: Bool = false,
                questionStarts: [Int]? = nil, tree: AnswerSchema? = nil, frozenConvolutions: Bool = false,
                optimizer: Optimizer = .sgd, adamSettings: AdamSettings = AdamSettings()) throws {
        precondition(maxBatch >= 1 && outputs >= 1)
        precondition(!(training && saliency), "a saliency network does not train")
        self.saliency = saliency
        if outputMode.constrainedForm != nil {
            guard let t = tree ?? AnswerSchema.implied(outputs: outputs, columns: nil, recorded: nil) else {
                throw GalaxyError.message("the constrained output layer needs the decision tree of its \(outputs) outputs (a schema)")
            }
            guard t.answerCount == outputs else {
                throw GalaxyError.message("the constrained output layer's schema \"\(t.name)\" has \(t.answerCount) answers, the network \(outputs) outputs")
            }
            _ = try ConstrainedOutputTree.specialization(t)  // a tree the shaders cannot hold fails here, not at the first pass
            constrainedTree = t
        } else {
            constrainedTree = nil
        }
        if let starts = questionStarts, starts.last != outputs || starts.first != 0 {
            throw GalaxyError.message("the schema's \(starts.last ?? 0) answer columns do not match the network's \(outputs) outputs")
        }
        if outputMode == .dirichlet && saliency {
            throw GalaxyError.message("saliency maps of a Dirichlet (concentration) head are not implemented yet")
        }
        if outputMode == .dirichlet && training && questionStarts == nil {
            throw GalaxyError.message("a Dirichlet network needs its schema's questions to train")
        }
        self.outputMode = outputMode
        self.kernels = kernels
        self.outputs = outputs
        self.maxBatch = maxBatch
        self.training = training
        let ctx = kernels.context
        var offsets: [String: Int] = [:]
        var total = 0
        for (name, shape) in SanderDielemanNet.parameterShapes(outputs: outputs) {
            offsets[name] = total
            total += (shape.reduce(1, *) + 63) / 64 * 64
        }
        self.offsets = offsets
        parameterCount = total
        params = try DeviceBuffer(ctx, floats: total, label: "params")
        try params.fill(0, count: total)
        if training {
            grads = try DeviceBuffer(ctx, floats: total, label: "grads")
            momentum = try DeviceBuffer(ctx, floats: total, label: "momentum")
            try grads!.fill(0, count: total)
            try momentum!.fill(0, count: total)
        } else {
            grads = nil
            momentum = nil
        }
        self.optimizer = optimizer
        self.adamSettings = adamSettings
        if training && optimizer == .adam {
            secondMoment = try DeviceBuffer(ctx, floats: total, label: "Adam second moment")
            try secondMoment!.fill(0, count: total)
            adamScalars = try DeviceBuffer(ctx, floats: 4, label: "Adam step scalars")
            try adamScalars!.upload(Reference.adamInitialScalars)
        } else {
            secondMoment = nil
            adamScalars = nil
        }
        plan = ActivationPlan(ops: Self.ops(outputs: outputs, mode: outputMode, training: training, saliency: saliency, frozenConvolutions: frozenConvolutions),
                              floatsPerImage: Self.activationSizes(outputs: outputs), batch: maxBatch)
        arena = try DeviceBuffer(ctx, bytes: plan.arenaBytes, label: "activations (batch \(maxBatch))")
        if let starts = questionStarts {
            let b = try DeviceBuffer(ctx, floats: starts.count, label: "question starts")
            try b.upload(starts.map { UInt32($0) })
            self.questionStarts = b
            questionCount = starts.count - 1
        } else {
            self.questionStarts = nil
            questionCount = 0
        }
        loss = try DeviceBuffer(ctx, floats: Self.lossSlots, label: "loss")
        try loss.fill(0, count: Self.lossSlots)
        evaluationSums = try DeviceBuffer(ctx, floats: 2 * outputs, label: "evaluation sums")
    }

    /// The bytes of an activation tensor (all `maxBatch` images).
    public func tensor(_ name: String) -> BufferRange {
        guard let t = plan.tensors[name] else { preconditionFailure("no activation tensor \(name) in this network's plan") }
        return BufferRange(arena, offset: t.offset, bytes: t.bytes)
    }

    /// Bytes of device memory this network holds (with the kernels' split-reduction scratch).
    public var deviceBytes: Int {
        [params, grads, momentum, secondMoment, adamScalars, arena, loss, evaluationSums].compactMap { $0?.size }.reduce(0, +) + kernels.scratchBytes
    }

    /// Weights, gradients and momentum plus one batch of activations (each layer's output once, and the
    /// input): what training at `batch` holds at the least, the yardstick of `deviceBytes`.
    public static func minimumBytes(outputs: Int, batch: Int) -> Int {
        let n = SanderDielemanNet.self
        let weights = SanderDielemanNet.parameterShapes(outputs: outputs).map { $0.shape.reduce(1, *) }.reduce(0, +)
        let perImage = [n.inputCount, n.conv1(1).outputCount, n.pool1(1).outputCount, n.conv2(1).outputCount, n.pool2(1).outputCount,
                        n.conv3(1).outputCount, n.conv4(1).outputCount, n.pool4(1).outputCount, n.fc1(1).outFeatures, n.fc2(1).outFeatures, outputs]
        return 4 * (3 * weights + batch * perImage.reduce(0, +))
    }

    private func range(_ buffer: DeviceBuffer, _ name: String) -> BufferRange {
        let count = SanderDielemanNet.parameterShapes(outputs: outputs).first { $0.name == name }!.shape.reduce(1, *)
        return buffer.floats(offsets[name]!, count)
    }
    func param(_ name: String) -> BufferRange { range(params, name) }
    func grad(_ name: String) -> BufferRange { range(grads!, name) }

    // MARK: - Host transfers

    public func setWeights(_ w: ModelWeights) throws {
        precondition(w.outputs == outputs)
        for name in w.names { try params.upload(w[name], at: offsets[name]!) }
    }

    public func weights() throws -> ModelWeights {
        var w = ModelWeights(outputs: outputs, seed: 0)
        for name in w.names { w[name] = try params.download(count: w[name].count, from: offsets[name]!) }
        return w
    }

    /// Gradients of the last backward pass, by parameter name.
    public func gradients() throws -> [String: [Float]] {
        var g: [String: [Float]] = [:]
        for (name, shape) in SanderDielemanNet.parameterShapes(outputs: outputs) {
            g[name] = try grads!.download(count: shape.reduce(1, *), from: offsets[name]!)
        }
        return g
    }

    /// The whole packed momentum buffer (saved with a checkpoint so a resumed run continues exactly).
    public func momentumValues() throws -> [Float] { try momentum!.download(count: parameterCount) }
    public func setMomentum(_ values: [Float]) throws {
        precondition(values.count == parameterCount)
        try momentum!.upload(values)
    }
    public func secondMomentValues() throws -> [Float] { try secondMoment!.download(count: parameterCount) }
    public func setSecondMoment(_ values: [Float]) throws {
        precondition(values.count == parameterCount)
        try secondMoment!.upload(values)
    }
    public func adamScalarValues() throws -> [Float] { try adamScalars!.download(count: 4) }
    public func setAdamScalars(_ values: [Float]) throws { try adamScalars!.upload(values) }

    // MARK: - Recording

    /// input -> output for `batch` images.
    public func recordForward(_ seq: CommandSequence, batch b: Int) throws {
        try record(seq, phase: .forward, OpArguments(batch: b))
    }

    /// loss[slot] (+)= sum (output - target)^2 over the batch (a Dirichlet network: its NLL of the counts in target).
    public func recordLoss(_ seq: CommandSequence, batch b: Int, slot: Int, accumulate: Bool) throws {
        try record(seq, phase: .loss, OpArguments(batch: b, slot: slot, accumulate: accumulate))
    }

    /// `evaluationSums` += the batch's squared errors and outputs, per output column (after recordForward).
    public func recordEvaluationSums(_ seq: CommandSequence, batch b: Int) throws {
        try record(seq, phase: .evaluation, OpArguments(batch: b))
    }

    /// What a test pass's `recordEvaluationSums` added up, in one read-back: per column, the squared errors
    /// and the outputs.
    public func evaluationSumsSoFar() throws -> (squaredErrors: [Float], outputs: [Float]) {
        let all: [Float] = try evaluationSums.download(count: 2 * outputs)
        return (Array(all[..<outputs]), Array(all[outputs...]))
    }

    /// Gradients of loss_sum / (lossBatch * outputs) into `grads`, lossBatch defaulting to the batch (a rank
    /// of a distributed run passes the whole batch's size). Needs the activations of recordForward.
    public func recordBackward(_ seq: CommandSequence, batch b: Int, lossBatch: Int? = nil) throws {
        precondition(training, "recordBackward on an inference network")
        try record(seq, phase: .backward, OpArguments(batch: b, lossBatch: lossBatch ?? b))
    }

    /// [maxBatch, 3, 69, 69] gradient of sum(target * output) with respect to `input`, after `recordSaliency`.
    public var inputGradient: BufferRange { tensor("dInput") }

    /// The gradient of sum over the batch of <target row, output row> with respect to the input, into
    /// `inputGradient`: `target` holds the output's gradient (a one-hot row picks one answer of each
    /// image). Needs the activations of recordForward; touches no weight gradient.
    public func recordSaliency(_ seq: CommandSequence, batch b: Int) throws {
        precondition(saliency, "recordSaliency on a network made without saliency")
        try record(seq, phase: .backward, OpArguments(batch: b))
    }

    /// A training step once its batch is in `input` and `target`: forward, the loss added to slot 0, backward
    /// (the gradient of the loss over `lossBatch` rows, default the batch), then the optimizer's step when `update`
    /// is given (a distributed rank's shard stops before it: the ranks sum their gradients first).
    public func recordTrainingStep(_ seq: CommandSequence, batch b: Int, lossBatch: Int? = nil, update: (lr: Float, momentum: Float)?) throws {
        try recordForward(seq, batch: b)
        try recordLoss(seq, batch: b, slot: 0, accumulate: true)
        try recordBackward(seq, batch: b, lossBatch: lossBatch)
        if let update { try recordUpdate(seq, lr: update.lr, momentum: update.momentum) }
    }

    /// Records the ops of one phase; `spans` (tests) receives each op's first and end dispatch index.
    func record(_ seq: CommandSequence, phase: NetworkOp.Phase, _ args: OpArguments, spans: ((String, Range<Int>) -> Void)? = nil) throws {
        precondition(args.batch >= 1 && args.batch <= maxBatch)
        for op in plan.ops where op.phase == phase {
            let first = seq.records.count
            try op.record(self, seq, args)
            spans?(op.name, first..<seq.records.count)
        }
    }

    /// One step of the optimizer over every parameter (the padding between tensors stays zero): SGD with
    /// momentum `m`, or Adam (its constants from `adamSettings`; `m` unused).
    public func recordUpdate(_ seq: CommandSequence, lr: Float, momentum m: Float) throws {
        switch optimizer {
        case .sgd:
            try kernels.sgdMomentum(seq, weights: params.whole, grads: grads!.whole, buffer: momentum!.whole, count: parameterCount, lr: lr, momentum: m)
        case .adam:
            try kernels.adam(seq, weights: params.whole, grads: grads!.whole, first: momentum!.whole, second: secondMoment!.whole,
                             scalars: adamScalars!.whole, count: parameterCount, lr: lr, settings: adamSettings)
        }
    }
}
