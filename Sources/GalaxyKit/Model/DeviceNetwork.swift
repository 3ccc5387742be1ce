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
        }
    }
}

/// SanderDielemanNet in device buffers: parameters, gradients and momentum packed in one buffer each
/// (one SGD dispatch updates them all), activations for up to `maxBatch` images, and the recorders of
/// the forward pass, the loss, the backward pass and the SGD update.
public final class DeviceNetwork {
    public let kernels: Kernels
    public let outputs: Int
    public let maxBatch: Int
    public let training: Bool
    public let outputMode: OutputMode

    /// Float offset of each parameter tensor in `params`/`grads`/`momentum`, 64-float aligned so each
    /// can be bound on its own (256 bytes satisfies every device's minStorageBufferOffsetAlignment).
    public let offsets: [String: Int]
    public let parameterCount: Int
    public let params: DeviceBuffer
    public let grads: DeviceBuffer?
    public let momentum: DeviceBuffer?

    /// [maxBatch, 3, 69, 69] network input and [maxBatch, outputs] targets.
    public let input: DeviceBuffer
    public let target: DeviceBuffer
    public let output: DeviceBuffer
    /// Loss accumulators (slot 0: training loss of the epoch so far, slot 1: evaluation).
    public let loss: DeviceBuffer
    public static let lossSlots = 4

    let r1, p1, i1, r2, p2, i2, r3, r4, p4, i4, f1, f2: DeviceBuffer
    /// fc3's output before the output layer (constrained mode), and its gradient.
    let z, dZ: DeviceBuffer?
    /// Gradients of the activations. Only the small ones and dP1 have buffers of their own: the ReLU
    /// mask of a pooled layer is applied to the pooled gradient (the max of a window is positive exactly
    /// when the ReLU passed it), so the pooling backward pass can write the conv output's gradient over
    /// the conv output itself (r1, r2, r4), and dR3 and dP2 live in r1 until dR1 is written there.
    let dOut, dF2, dF1, dP4, dP1: DeviceBuffer?

    public init(kernels: Kernels, outputs: Int, maxBatch: Int, training: Bool, outputMode: OutputMode = .relu) throws {
        precondition(maxBatch >= 1 && outputs >= 1)
        if outputMode.constrainedForm != nil && outputs != GalaxyZooTree.answerCount {
            throw GalaxyError.message("the constrained output layer needs the 37 Galaxy Zoo columns, not \(outputs)")
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
        let b = maxBatch
        func buf(_ n: Int, _ label: String) throws -> DeviceBuffer { try DeviceBuffer(ctx, floats: b * n, label: label) }
        input = try buf(SanderDielemanNet.inputCount, "input")
        target = try buf(outputs, "target")
        output = try buf(outputs, "output")
        loss = try DeviceBuffer(ctx, floats: Self.lossSlots, label: "loss")
        try loss.fill(0, count: Self.lossSlots)
        r1 = try buf(32 * 64 * 64, "r1"); p1 = try buf(32 * 32 * 32, "p1"); i1 = try buf(32 * 32 * 32, "i1")
        r2 = try buf(64 * 28 * 28, "r2"); p2 = try buf(64 * 14 * 14, "p2"); i2 = try buf(64 * 14 * 14, "i2")
        r3 = try buf(128 * 12 * 12, "r3"); r4 = try buf(128 * 10 * 10, "r4")
        p4 = try buf(3200, "p4"); i4 = try buf(3200, "i4")
        f1 = try buf(128, "f1"); f2 = try buf(64, "f2")
        z = outputMode.constrainedForm != nil ? try buf(outputs, "z") : nil
        dZ = outputMode.constrainedForm != nil && training ? try buf(outputs, "dZ") : nil
        if training {
            dOut = try buf(outputs, "dOut"); dF2 = try buf(64, "dF2"); dF1 = try buf(128, "dF1"); dP4 = try buf(3200, "dP4")
            dP1 = try buf(32 * 32 * 32, "dP1")
        } else {
            (dOut, dF2, dF1, dP4, dP1) = (nil, nil, nil, nil, nil)
        }
    }

    /// Bytes of device memory this network holds.
    public var deviceBytes: Int {
        let all: [DeviceBuffer?] = [params, grads, momentum, input, target, output, loss, r1, p1, i1, r2, p2, i2, r3, r4, p4, i4, f1, f2,
                                    dOut, dF2, dF1, dP4, dP1, z, dZ]
        return all.compactMap { $0?.size }.reduce(0, +)
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

    // MARK: - Recording

    /// input -> output for `batch` images.
    public func recordForward(_ seq: CommandSequence, batch b: Int) throws {
        precondition(b >= 1 && b <= maxBatch)
        let k = kernels
        let net = SanderDielemanNet.self
        try k.conv2dForward(seq, x: input.whole, w: param("conv1.weight"), b: param("conv1.bias"), y: r1.whole, shape: net.conv1(b), relu: true)
        try k.maxpool2dForward(seq, x: r1.whole, y: p1.whole, index: i1.whole, shape: net.pool1(b))
        try k.conv2dForward(seq, x: p1.whole, w: param("conv2.weight"), b: param("conv2.bias"), y: r2.whole, shape: net.conv2(b), relu: true)
        try k.maxpool2dForward(seq, x: r2.whole, y: p2.whole, index: i2.whole, shape: net.pool2(b))
        try k.conv2dForward(seq, x: p2.whole, w: param("conv3.weight"), b: param("conv3.bias"), y: r3.whole, shape: net.conv3(b), relu: true)
        try k.conv2dForward(seq, x: r3.whole, w: param("conv4.weight"), b: param("conv4.bias"), y: r4.whole, shape: net.conv4(b), relu: true)
        try k.maxpool2dForward(seq, x: r4.whole, y: p4.whole, index: i4.whole, shape: net.pool4(b))
        try k.linearForward(seq, x: p4.whole, w: param("fc1.weight"), b: param("fc1.bias"), y: f1.whole, shape: net.fc1(b), relu: true)
        try k.linearForward(seq, x: f1.whole, w: param("fc2.weight"), b: param("fc2.bias"), y: f2.whole, shape: net.fc2(b), relu: true)
        if let form = outputMode.constrainedForm {
            try k.linearForward(seq, x: f2.whole, w: param("fc3.weight"), b: param("fc3.bias"), y: z!.whole, shape: net.fc3(b, outputs: outputs))
            try k.constrainedOutputForward(seq, z: z!.whole, p: output.whole, batch: b, form: form)
        } else {
            try k.linearForward(seq, x: f2.whole, w: param("fc3.weight"), b: param("fc3.bias"), y: output.whole, shape: net.fc3(b, outputs: outputs), relu: true)
        }
    }

    /// loss[slot] (+)= sum (output - target)^2 over the batch.
    public func recordLoss(_ seq: CommandSequence, batch b: Int, slot: Int, accumulate: Bool) throws {
        try kernels.mseForward(seq, pred: output.whole, target: target.whole, loss: loss.whole, count: b * outputs, slot: slot, accumulate: accumulate)
    }

    /// Gradients of loss_sum / (lossBatch * outputs) into `grads`, lossBatch defaulting to the batch (a rank
    /// of a distributed run passes the whole batch's size). Needs the activations of recordForward.
    public func recordBackward(_ seq: CommandSequence, batch b: Int, lossBatch: Int? = nil) throws {
        precondition(training, "recordBackward on an inference network")
        let k = kernels
        let net = SanderDielemanNet.self
        let (dOut, dF2, dF1, dP4, dP1) = (self.dOut!, self.dF2!, self.dF1!, self.dP4!, self.dP1!)
        // Aliases (see the declaration of dP1): r1 is free once the forward pass is done, because the
        // pooling indices and p1 carry everything the backward pass needs from it. 18432 * 4 bytes is a
        // multiple of 256, so dP2's offset is aligned for any batch.
        let (dR4, dR2, dR1) = (r4.whole, r2.whole, r1.whole)
        let dR3 = r1.floats(0, maxBatch * 128 * 12 * 12)
        let dP2 = r1.floats(maxBatch * 128 * 12 * 12, maxBatch * 64 * 14 * 14)
        try k.mseBackward(seq, pred: output.whole, target: target.whole, grad: dOut.whole, count: b * outputs, denominator: (lossBatch ?? b) * outputs)
        let dFc3: DeviceBuffer
        if let form = outputMode.constrainedForm {
            try k.constrainedOutputBackward(seq, z: z!.whole, dp: dOut.whole, dz: dZ!.whole, batch: b, form: form)
            dFc3 = dZ!
        } else {
            try k.reluBackward(seq, y: output.whole, dy: dOut.whole, dx: dOut.whole, count: b * outputs)
            dFc3 = dOut
        }
        let fc3 = net.fc3(b, outputs: outputs)
        try k.linearBackwardWeight(seq, dy: dFc3.whole, x: f2.whole, dw: grad("fc3.weight"), db: grad("fc3.bias"), shape: fc3)
        try k.linearBackwardInput(seq, dy: dFc3.whole, w: param("fc3.weight"), dx: dF2.whole, shape: fc3)
        try k.reluBackward(seq, y: f2.whole, dy: dF2.whole, dx: dF2.whole, count: b * 64)
        try k.linearBackwardWeight(seq, dy: dF2.whole, x: f1.whole, dw: grad("fc2.weight"), db: grad("fc2.bias"), shape: net.fc2(b))
        try k.linearBackwardInput(seq, dy: dF2.whole, w: param("fc2.weight"), dx: dF1.whole, shape: net.fc2(b))
        try k.reluBackward(seq, y: f1.whole, dy: dF1.whole, dx: dF1.whole, count: b * 128)
        try k.linearBackwardWeight(seq, dy: dF1.whole, x: p4.whole, dw: grad("fc1.weight"), db: grad("fc1.bias"), shape: net.fc1(b))
        try k.linearBackwardInput(seq, dy: dF1.whole, w: param("fc1.weight"), dx: dP4.whole, shape: net.fc1(b))
        // ReLU then pool: the ReLU's mask at a window's argmax is (pooled value > 0), so it is applied
        // to the pooled gradient (a quarter of the elements) with the same bits as on the full one.
        try k.reluBackward(seq, y: p4.whole, dy: dP4.whole, dx: dP4.whole, count: net.pool4(b).outputCount)
        try k.maxpool2dBackward(seq, dy: dP4.whole, index: i4.whole, dx: dR4, shape: net.pool4(b))
        try k.conv2dBackwardWeight(seq, dy: dR4, x: r3.whole, dw: grad("conv4.weight"), db: grad("conv4.bias"), shape: net.conv4(b))
        try k.conv2dBackwardInput(seq, dy: dR4, w: param("conv4.weight"), dx: dR3, shape: net.conv4(b))
        try k.reluBackward(seq, y: r3.whole, dy: dR3, dx: dR3, count: net.conv3(b).outputCount)
        try k.conv2dBackwardWeight(seq, dy: dR3, x: p2.whole, dw: grad("conv3.weight"), db: grad("conv3.bias"), shape: net.conv3(b))
        try k.conv2dBackwardInput(seq, dy: dR3, w: param("conv3.weight"), dx: dP2, shape: net.conv3(b))
        try k.reluBackward(seq, y: p2.whole, dy: dP2, dx: dP2, count: net.pool2(b).outputCount)
        try k.maxpool2dBackward(seq, dy: dP2, index: i2.whole, dx: dR2, shape: net.pool2(b))
        try k.conv2dBackwardWeight(seq, dy: dR2, x: p1.whole, dw: grad("conv2.weight"), db: grad("conv2.bias"), shape: net.conv2(b))
        try k.conv2dBackwardInput(seq, dy: dR2, w: param("conv2.weight"), dx: dP1.whole, shape: net.conv2(b))
        try k.reluBackward(seq, y: p1.whole, dy: dP1.whole, dx: dP1.whole, count: net.pool1(b).outputCount)
        try k.maxpool2dBackward(seq, dy: dP1.whole, index: i1.whole, dx: dR1, shape: net.pool1(b))
        try k.conv2dBackwardWeight(seq, dy: dR1, x: input.whole, dw: grad("conv1.weight"), db: grad("conv1.bias"), shape: net.conv1(b))
    }

    /// One SGD-with-momentum step over every parameter (the padding between tensors stays zero).
    public func recordSGD(_ seq: CommandSequence, lr: Float, momentum m: Float) throws {
        try kernels.sgdMomentum(seq, weights: params.whole, grads: grads!.whole, buffer: momentum!.whole, count: parameterCount, lr: lr, momentum: m)
    }
}
