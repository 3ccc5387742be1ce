/// The whole network on the CPU from the reference ops: the specification the GPU network is tested
/// against, and what the PyTorch golden numbers are compared with first.
///
/// `@_specialize` here and on the reference ops (Float and Double) compiles those specializations into GalaxyKit,
/// and the generic entry points branch to them at run time: a caller built without optimization (the tests,
/// built at -Onone) would otherwise run generic code whose every arithmetic operation goes through
/// BinaryFloatingPoint's witness table, about 20x slower (100 s for one finite-difference test).
public struct ReferenceNetwork<T: BinaryFloatingPoint> {
    public var params: [String: [T]]
    public let outputs: Int
    public let outputMode: OutputMode
    /// The constrained output layer's tree (DeviceNetwork's `constrainedTree`).
    public let tree: AnswerSchema?

    public init(_ weights: ModelWeights, outputMode: OutputMode = .relu, tree: AnswerSchema? = nil) {
        outputs = weights.outputs
        self.outputMode = outputMode
        self.tree = outputMode.constrainedForm == nil ? nil : tree ?? AnswerSchema.implied(outputs: weights.outputs, columns: nil, recorded: nil)
        precondition(outputMode.constrainedForm == nil || self.tree?.answerCount == outputs, "ReferenceNetwork: no tree of \(outputs) answers")
        params = Dictionary(uniqueKeysWithValues: weights.names.map { ($0, weights[$0].map { T($0) }) })
    }

    /// Activations kept for the backward pass.
    public struct Activations {
        public var input: [T], r1: [T], p1: [T], i1: [UInt32], r2: [T], p2: [T], i2: [UInt32]
        public var r3: [T], r4: [T], p4: [T], i4: [UInt32], f1: [T], f2: [T], z: [T], output: [T]
    }

    @_specialize(where T == Double)
    public func forward(_ x: [T], batch b: Int) -> Activations {
        typealias R = Reference
        let r1 = R.reluForward(R.conv2dForward(x, params["conv1.weight"]!, params["conv1.bias"]!, SanderDielemanNet.conv1(b)))
        let (p1, i1) = R.maxpool2dForward(r1, SanderDielemanNet.pool1(b))
        let r2 = R.reluForward(R.conv2dForward(p1, params["conv2.weight"]!, params["conv2.bias"]!, SanderDielemanNet.conv2(b)))
        let (p2, i2) = R.maxpool2dForward(r2, SanderDielemanNet.pool2(b))
        let r3 = R.reluForward(R.conv2dForward(p2, params["conv3.weight"]!, params["conv3.bias"]!, SanderDielemanNet.conv3(b)))
        let r4 = R.reluForward(R.conv2dForward(r3, params["conv4.weight"]!, params["conv4.bias"]!, SanderDielemanNet.conv4(b)))
        let (p4, i4) = R.maxpool2dForward(r4, SanderDielemanNet.pool4(b))
        let f1 = R.reluForward(R.linearForward(p4, params["fc1.weight"]!, params["fc1.bias"]!, SanderDielemanNet.fc1(b)))
        let f2 = R.reluForward(R.linearForward(f1, params["fc2.weight"]!, params["fc2.bias"]!, SanderDielemanNet.fc2(b)))
        let z = R.linearForward(f2, params["fc3.weight"]!, params["fc3.bias"]!, SanderDielemanNet.fc3(b, outputs: outputs))
        let out = outputMode == .dirichlet ? z.map { T(R.concentration(Double($0))) }
            : outputMode.constrainedForm.map { R.constrainedOutputForward(z, batch: b, tree: tree!, form: $0) } ?? R.reluForward(z)
        return Activations(input: x, r1: r1, p1: p1, i1: i1, r2: r2, p2: p2, i2: i2, r3: r3, r4: r4, p4: p4, i4: i4, f1: f1, f2: f2, z: z, output: out)
    }

    /// Gradients of loss_sum / numel (the seed's backward) for every parameter.
    @_specialize(where T == Double)
    public func backward(_ a: Activations, target: [T], batch b: Int) -> [String: [T]] {
        precondition(outputMode != .dirichlet, "ReferenceNetwork.backward is the MSE loss's")
        return propagate(a, dOutput: Reference.mseBackward(a.output, target), batch: b, inputGradient: false).weights
    }

    /// The gradient of sum <seed row, output row> with respect to the input [batch, 3, 69, 69]: with a
    /// one-hot seed row, the gradient of that answer (the saliency map).
    @_specialize(where T == Double)
    public func inputGradient(_ a: Activations, seed: [T], batch b: Int) -> [T] {
        propagate(a, dOutput: seed, batch: b, inputGradient: true).input!
    }

    /// From the output's gradient down: every parameter's gradient, and the input's when asked.
    func propagate(_ a: Activations, dOutput dLoss: [T], batch b: Int, inputGradient: Bool) -> (weights: [String: [T]], input: [T]?) {
        typealias R = Reference
        var g: [String: [T]] = [:]
        precondition(outputMode != .dirichlet, "ReferenceNetwork.propagate: no Dirichlet head")
        let dOut = outputMode.constrainedForm.map { R.constrainedOutputBackward(a.z, dLoss, batch: b, tree: tree!, form: $0) } ?? R.reluBackward(a.output, dLoss)
        (g["fc3.weight"], g["fc3.bias"]) = R.linearBackwardWeight(dOut, a.f2, SanderDielemanNet.fc3(b, outputs: outputs))
        let dF2 = R.reluBackward(a.f2, R.linearBackwardInput(dOut, params["fc3.weight"]!, SanderDielemanNet.fc3(b, outputs: outputs)))
        (g["fc2.weight"], g["fc2.bias"]) = R.linearBackwardWeight(dF2, a.f1, SanderDielemanNet.fc2(b))
        let dF1 = R.reluBackward(a.f1, R.linearBackwardInput(dF2, params["fc2.weight"]!, SanderDielemanNet.fc2(b)))
        (g["fc1.weight"], g["fc1.bias"]) = R.linearBackwardWeight(dF1, a.p4, SanderDielemanNet.fc1(b))
        let dP4 = R.linearBackwardInput(dF1, params["fc1.weight"]!, SanderDielemanNet.fc1(b))
        let dR4 = R.reluBackward(a.r4, R.maxpool2dBackward(dP4, a.i4, SanderDielemanNet.pool4(b)))
        (g["conv4.weight"], g["conv4.bias"]) = R.conv2dBackwardWeight(dR4, a.r3, SanderDielemanNet.conv4(b))
        let dR3 = R.reluBackward(a.r3, R.conv2dBackwardInput(dR4, params["conv4.weight"]!, SanderDielemanNet.conv4(b)))
        (g["conv3.weight"], g["conv3.bias"]) = R.conv2dBackwardWeight(dR3, a.p2, SanderDielemanNet.conv3(b))
        let dP2 = R.conv2dBackwardInput(dR3, params["conv3.weight"]!, SanderDielemanNet.conv3(b))
        let dR2 = R.reluBackward(a.r2, R.maxpool2dBackward(dP2, a.i2, SanderDielemanNet.pool2(b)))
        (g["conv2.weight"], g["conv2.bias"]) = R.conv2dBackwardWeight(dR2, a.p1, SanderDielemanNet.conv2(b))
        let dP1 = R.conv2dBackwardInput(dR2, params["conv2.weight"]!, SanderDielemanNet.conv2(b))
        let dR1 = R.reluBackward(a.r1, R.maxpool2dBackward(dP1, a.i1, SanderDielemanNet.pool1(b)))
        (g["conv1.weight"], g["conv1.bias"]) = R.conv2dBackwardWeight(dR1, a.input, SanderDielemanNet.conv1(b))
        return (g, inputGradient ? R.conv2dBackwardInput(dR1, params["conv1.weight"]!, SanderDielemanNet.conv1(b)) : nil)
    }
}
