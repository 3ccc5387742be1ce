import Foundation

/// The resumable state: what is saved (through `RunDirectory`), what a failure says of it, and reading it back.
extension Trainer {
    /// The weights on disk that a NaN leaves intact: the last resumable state, also a mid-epoch one.
    var lastCheckpointDescription: String {
        guard let at = savedAt else { return "none (nothing saved yet)" }
        return directory.file(Self.lastWeights).path + " (\(at))"
    }

    /// Where the resumable state on disk stands ("after epoch 2", "at epoch 3, step 40"), nil when none is.
    var savedAt: String? {
        saved.map { $0.step == 0 ? "after epoch \($0.epoch)" : "at epoch \($0.epoch + 1), step \($0.step)" }
    }

    func checkpointMetadata() -> [String: String] {
        var meta = ["format": "galaxy SanderDielemanNet", "output": options.outputMode.rawValue, "columns": data.columns.joined(separator: ","),
                    "epoch": "\(state.epoch)"]
        if let schema { meta[AnswerSchema.metadataKey] = schema.json }
        return meta
    }

    /// Writes the resumable state `state` with the device's weights (or `weights`) and momentum (rank 0; the
    /// other ranks only note it). The weights' digest is recorded for the runs written before the state
    /// carried the weights itself.
    func saveLast(_ weights: ModelWeights? = nil, state: TrainingState) throws {
        defer { lastSave = Date() }
        guard rank == 0 else {
            saved = (state.epoch, state.step)
            return
        }
        let w = try weights ?? network.weights()
        let tensors = w.names.map { ($0, w.tensors[$0]!) }
        var state = state
        state.weightsDigest = Self.digest(try SafeTensors.serialize(tensors, metadata: checkpointMetadata()))
        // The optimizer's state: SGD's momentum (Adam's first moment), Adam's second moment and step scalars.
        var optimizerTensors: [(name: String, tensor: Tensor)] = []
        let buffers = [("momentum.", try network.momentumValues())] + (network.optimizer == .adam ? [("second_moment.", try network.secondMomentValues())] : [])
        for (prefix, values) in buffers {
            optimizerTensors += SanderDielemanNet.parameterShapes(outputs: state.outputs).map { name, shape in
                (prefix + name, Tensor(shape: shape, values: Array(values[network.offsets[name]!..<(network.offsets[name]! + shape.reduce(1, *))])))
            }
        }
        if network.optimizer == .adam { optimizerTensors.append(("adam.scalars", Tensor(shape: [4], values: try network.adamScalarValues()))) }
        try directory.writeResumable(state: state, weights: tensors, weightsMetadata: checkpointMetadata(), optimizer: optimizerTensors)
        saved = (state.epoch, state.step)
    }

    static func loadResumable(_ runDir: URL, data: GalaxyDataset) throws -> (ModelWeights, TrainingState) {
        let (weights, _, state) = try loadResumable(RunDirectory(unlocked: runDir), data: data)
        return (weights, state)
    }

    /// The weights, momentum (by parameter name) and training state to resume from. The state file carries
    /// the weights; a run written before it did is read with its last.safetensors, which must match the digest.
    static func loadResumable(_ directory: RunDirectory, data: GalaxyDataset) throws -> (ModelWeights, OptimizerState, TrainingState) {
        let (state, tensors) = try directory.readState()
        let stateURL = directory.file(lastState)
        guard state.columns == data.columns else {
            throw TrainingError.invalid("\(directory.url.path) was trained on columns \(state.columns.prefix(3))... but the data has \(data.columns.prefix(3))...")
        }
        var momentum = OptimizerState(), carried: [String: Tensor] = [:]
        for (name, t) in tensors {
            if name.hasPrefix("momentum.") { momentum.first[String(name.dropFirst("momentum.".count))] = t }
            if name.hasPrefix("second_moment.") { momentum.second[String(name.dropFirst("second_moment.".count))] = t }
            if name == "adam.scalars" { momentum.adamScalars = t.values }
            if name.hasPrefix("weights.") { carried[String(name.dropFirst("weights.".count))] = t }
        }
        if !carried.isEmpty {
            return (try ModelWeights(from: carried, file: stateURL.path, expectedOutputs: data.columns.count), momentum, state)
        }
        let weightsURL = directory.file(lastWeights)
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw TrainingError.invalid("\(weightsURL.path) not found: \(directory.url.path) holds no resumable run")
        }
        let bytes = [UInt8](try Data(contentsOf: weightsURL))
        guard digest(bytes) == state.weightsDigest else {
            throw TrainingError.invalid("\(weightsURL.path) does not belong to \(stateURL.path) (digest mismatch): cannot resume exactly")
        }
        let (weights, _) = try SafeTensors.parse(bytes, name: weightsURL.path)
        return (try ModelWeights(from: weights, file: weightsURL.path, expectedOutputs: data.columns.count), momentum, state)
    }

    /// Puts a resumed run's optimizer state on the device, checking that the state file has all of it.
    func restore(_ saved: OptimizerState, k: Int) throws {
        let file = directory.file(Self.lastState).path
        func packed(_ tensors: [String: Tensor], _ prefix: String) throws -> [Float] {
            var m = [Float](repeating: 0, count: network.parameterCount)
            for (name, shape) in SanderDielemanNet.parameterShapes(outputs: k) {
                guard let t = tensors[name], t.shape == shape else {
                    throw TrainingError.invalid("\(file): tensor \(prefix)\(name) missing or of another shape")
                }
                m.replaceSubrange(network.offsets[name]!..<(network.offsets[name]! + t.values.count), with: t.values)
            }
            return m
        }
        try network.setMomentum(try packed(saved.first, "momentum."))
        guard network.optimizer == .adam else { return }
        try network.setSecondMoment(try packed(saved.second, "second_moment."))
        guard let scalars = saved.adamScalars, scalars.count == 4 else { throw TrainingError.invalid("\(file): tensor adam.scalars missing or of another shape") }
        try network.setAdamScalars(scalars)
    }

    /// FNV-1a 64 of bytes, hex.
    static func digest(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }

    static func splitDigest(ids: [Int64], train: [Int]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(train.count * 8)
        for i in train { withUnsafeBytes(of: ids[i].littleEndian) { bytes += $0 } }
        return digest(bytes) + "-\(ids.count)"
    }
}

/// A resumable state's optimizer tensors by parameter name: SGD's momentum or Adam's first moment, Adam's
/// second moment, and Adam's step scalars (Reference.adam).
struct OptimizerState {
    var first: [String: Tensor] = [:]
    var second: [String: Tensor] = [:]
    var adamScalars: [Float]?
}
