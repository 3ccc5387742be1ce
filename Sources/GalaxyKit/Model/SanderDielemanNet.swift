import Foundation

/// The seed's network, layer by layer (NCHW, stride 1, no padding):
/// conv1 3->32 k6 (69->64) · ReLU · pool (32) · conv2 32->64 k5 (28) · ReLU · pool (14) ·
/// conv3 64->128 k3 (12) · ReLU · conv4 128->128 k3 (10) · ReLU · pool (5) · flatten 3200 ·
/// fc1 ->128 · ReLU · fc2 ->64 · ReLU · fc3 ->outputs · ReLU.
public enum SanderDielemanNet {
    public static let inputSide = 69
    public static let inputChannels = 3
    public static let inputCount = inputChannels * inputSide * inputSide

    public static func conv1(_ batch: Int) -> Conv2dShape { Conv2dShape(batch: batch, inChannels: 3, outChannels: 32, inHeight: 69, inWidth: 69, kernel: 6) }
    public static func conv2(_ batch: Int) -> Conv2dShape { Conv2dShape(batch: batch, inChannels: 32, outChannels: 64, inHeight: 32, inWidth: 32, kernel: 5) }
    public static func conv3(_ batch: Int) -> Conv2dShape { Conv2dShape(batch: batch, inChannels: 64, outChannels: 128, inHeight: 14, inWidth: 14, kernel: 3) }
    public static func conv4(_ batch: Int) -> Conv2dShape { Conv2dShape(batch: batch, inChannels: 128, outChannels: 128, inHeight: 12, inWidth: 12, kernel: 3) }
    public static func pool1(_ batch: Int) -> PoolShape { PoolShape(planes: batch * 32, height: 64, width: 64) }
    public static func pool2(_ batch: Int) -> PoolShape { PoolShape(planes: batch * 64, height: 28, width: 28) }
    public static func pool4(_ batch: Int) -> PoolShape { PoolShape(planes: batch * 128, height: 10, width: 10) }
    public static func fc1(_ batch: Int) -> LinearShape { LinearShape(batch: batch, inFeatures: 3200, outFeatures: 128) }
    public static func fc2(_ batch: Int) -> LinearShape { LinearShape(batch: batch, inFeatures: 128, outFeatures: 64) }
    public static func fc3(_ batch: Int, outputs: Int) -> LinearShape { LinearShape(batch: batch, inFeatures: 64, outFeatures: outputs) }

    /// The PyTorch `state_dict` names and shapes, in the module's order.
    public static func parameterShapes(outputs: Int) -> [(name: String, shape: [Int])] {
        [
            ("conv1.weight", [32, 3, 6, 6]), ("conv1.bias", [32]),
            ("conv2.weight", [64, 32, 5, 5]), ("conv2.bias", [64]),
            ("conv3.weight", [128, 64, 3, 3]), ("conv3.bias", [128]),
            ("conv4.weight", [128, 128, 3, 3]), ("conv4.bias", [128]),
            ("fc1.weight", [128, 3200]), ("fc1.bias", [128]),
            ("fc2.weight", [64, 128]), ("fc2.bias", [64]),
            ("fc3.weight", [outputs, 64]), ("fc3.bias", [outputs]),
        ]
    }

    /// Multiply-adds of one image's forward pass.
    public static func forwardMACs(outputs: Int) -> Int {
        conv1(1).macs + conv2(1).macs + conv3(1).macs + conv4(1).macs + fc1(1).macs + fc2(1).macs + fc3(1, outputs: outputs).macs
    }
}

/// The network's parameters by PyTorch name, in `state_dict` order.
public struct ModelWeights: Equatable, Sendable {
    public let outputs: Int
    public private(set) var tensors: [String: Tensor]
    public var names: [String] { SanderDielemanNet.parameterShapes(outputs: outputs).map(\.name) }

    public subscript(name: String) -> [Float] {
        get { tensors[name]!.values }
        set {
            precondition(newValue.count == tensors[name]!.values.count, "\(name): wrong size")
            tensors[name]!.values = newValue
        }
    }

    /// PyTorch's default initialization of Conv2d and Linear: weights and biases uniform in
    /// [-1/sqrt(fan_in), 1/sqrt(fan_in)] (kaiming_uniform with a = sqrt(5) gives the same bound).
    public init(outputs: Int, seed: UInt64) {
        precondition(outputs >= 1)
        self.outputs = outputs
        var rng = SplitMix64(seed: seed)
        var t: [String: Tensor] = [:]
        let shapes = SanderDielemanNet.parameterShapes(outputs: outputs)
        for i in stride(from: 0, to: shapes.count, by: 2) {
            let (wName, wShape) = shapes[i]
            let (bName, bShape) = shapes[i + 1]
            let fanIn = wShape.dropFirst().reduce(1, *)
            let bound = 1 / Float(fanIn).squareRoot()
            t[wName] = Tensor(shape: wShape, values: (0..<wShape.reduce(1, *)).map { _ in rng.uniform(-bound, bound) })
            t[bName] = Tensor(shape: bShape, values: (0..<bShape[0]).map { _ in rng.uniform(-bound, bound) })
        }
        tensors = t
    }

    /// Takes the network's tensors out of `source` (other entries are ignored), checking every name
    /// and shape. `expectedOutputs` nil accepts whatever fc3 has.
    public init(from source: [String: Tensor], file: String, expectedOutputs: Int? = nil) throws {
        guard let fc3 = source["fc3.bias"] else {
            throw SafeTensorsError(file: file, reason: "tensor fc3.bias missing: not a SanderDielemanNet checkpoint")
        }
        let outputs = fc3.shape.first ?? 0
        if let expectedOutputs, expectedOutputs != outputs {
            throw SafeTensorsError(file: file, reason: "tensor fc3.bias has \(outputs) outputs but the data has \(expectedOutputs) target columns")
        }
        var t: [String: Tensor] = [:]
        for (name, shape) in SanderDielemanNet.parameterShapes(outputs: outputs) {
            guard let tensor = source[name] else { throw SafeTensorsError(file: file, reason: "tensor \(name) missing") }
            guard tensor.shape == shape else {
                throw SafeTensorsError(file: file, reason: "tensor \(name) has shape \(tensor.shape), expected \(shape)")
            }
            t[name] = tensor
        }
        self.outputs = outputs
        tensors = t
    }

    /// The convolutions of these weights under a new dense head (fc1, fc2, fc3 as `ModelWeights(outputs:seed:)`
    /// draws them) of `outputs` outputs: what finetuning on another tree or output starts from.
    public func withNewHead(outputs: Int, seed: UInt64) -> ModelWeights {
        var fresh = ModelWeights(outputs: outputs, seed: seed)
        for name in names where name.hasPrefix("conv") { fresh.tensors[name] = tensors[name] }
        return fresh
    }

    public static func load(_ url: URL, expectedOutputs: Int? = nil) throws -> (weights: ModelWeights, metadata: [String: String]) {
        let (tensors, metadata) = try SafeTensors.read(url)
        return (try ModelWeights(from: tensors, file: url.path, expectedOutputs: expectedOutputs), metadata)
    }

    /// Writes the weights as a safetensors file loadable by `SanderDielemanNet().load_state_dict(...)`.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(names.map { ($0, tensors[$0]!) }, metadata: metadata, to: url)
    }
}
