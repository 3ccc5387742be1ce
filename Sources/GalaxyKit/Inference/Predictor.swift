import Foundation

/// Runs a trained network on cached-format images (uint8 CHW 3x69x69) on the device.
public final class Predictor {
    public let context: VulkanContext
    public let network: DeviceNetwork
    public let maxBatch: Int

    /// `tiles`: the kernels' configuration (default: the device's; `KernelPath.forWork` by the number of images).
    /// `tree`: the schema of a constrained output layer (the checkpoint's; default Kaggle's for 37 outputs).
    public init(context: VulkanContext, weights: ModelWeights, maxBatch: Int = 128, outputMode: OutputMode = .relu, tree: AnswerSchema? = nil,
                path: KernelPath? = nil) throws {
        self.context = context
        self.maxBatch = maxBatch
        network = try DeviceNetwork(kernels: Kernels(context, path: path), outputs: weights.outputs, maxBatch: maxBatch, training: false,
                                    outputMode: outputMode, tree: tree)
        try network.setWeights(weights)
    }

    /// Outputs [count, outputs] for `images` (count x 3x69x69 bytes), averaged over `views` of each
    /// image: `.none` alone by default; test-time augmentation passes several dihedral views.
    public func predict(images: [UInt8], views: [AugmentMode] = [.none]) throws -> [Float] {
        let side = GalaxyDataset.imageSide
        let count = images.count / GalaxyDataset.imageBytes
        guard count > 0 else { return [] }
        let k = network.outputs
        // Images beyond the device's default budget stream (one chunk after another); each batch's outputs are read back.
        let data = try DeviceDataset(context, images: images, side: side, targets: nil, targetWidth: k, batch: maxBatch)
        let feeder = try BatchFeeder(data: data, maxBatch: maxBatch, label: "predict")
        let steps = stride(from: 0, to: count, by: maxBatch).map { Array($0..<min(count, $0 + maxBatch)) }
        var sums = [Float](repeating: 0, count: count * k)
        for view in views {
            var sequences: [[Int]: CommandSequence] = [:]
            try feeder.begin(steps)
            for (i, rows) in steps.enumerated() {
                let b = rows.count, key = [b, i % 2]
                let seq: CommandSequence
                if let s = sequences[key] { seq = s } else {
                    seq = try CommandSequence(context)
                    try feeder.recordBatch(seq, kernels: network.kernels, parity: i % 2, batch: b, mode: view, input: network.input, target: nil)
                    try network.recordForward(seq, batch: b)
                    sequences[key] = seq
                }
                try feeder.run(step: i, seq)
                try feeder.finish()
                let out: [Float] = try network.output.download(count: b * k)
                for j in 0..<(b * k) { sums[rows[0] * k + j] += out[j] }
            }
        }
        let scale = 1 / Float(views.count)
        return views.count == 1 ? sums : sums.map { $0 * scale }
    }
}

/// Root-mean-square error helpers, as the Kaggle metric: sqrt(sum (p - y)^2 / (N * K)).
public enum Metrics {
    public static func rmse(_ pred: [Float], _ target: [Float]) -> Double {
        precondition(pred.count == target.count)
        guard !pred.isEmpty else { return .nan }
        return (zip(pred, target).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } / Double(pred.count)).squareRoot()
    }

    /// RMSE over the given columns only.
    public static func rmse(_ pred: [Float], _ target: [Float], width: Int, columns: Range<Int>) -> Double {
        var sum = 0.0, n = 0
        for row in 0..<(pred.count / width) {
            for c in columns {
                let d = Double(pred[row * width + c] - target[row * width + c])
                sum += d * d
                n += 1
            }
        }
        return n == 0 ? .nan : (sum / Double(n)).squareRoot()
    }

    /// Per-column mean of `rows` of `targets` (the constant-mean predictor fitted on them).
    public static func columnMeans(_ targets: [Float], width: Int, rows: [Int]) -> [Float] {
        var mean = [Double](repeating: 0, count: width)
        for r in rows { for c in 0..<width { mean[c] += Double(targets[r * width + c]) } }
        return mean.map { Float($0 / Double(max(rows.count, 1))) }
    }

    /// Rows of a row-major matrix.
    public static func rows<T>(_ values: [T], width: Int, _ rows: [Int]) -> [T] {
        rows.flatMap { values[$0 * width..<($0 + 1) * width] }
    }

    /// Rows of cached images.
    public static func images(_ data: GalaxyDataset, _ rows: [Int]) -> [UInt8] {
        let n = GalaxyDataset.imageBytes
        var out = [UInt8]()
        out.reserveCapacity(rows.count * n)
        for r in rows { out += data.images[r * n..<(r + 1) * n] }
        return out
    }
}
