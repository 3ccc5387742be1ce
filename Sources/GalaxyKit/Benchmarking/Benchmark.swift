import Foundation

/// Figures printed by `galaxy bench`.
public struct BenchmarkResult: Codable, Sendable {
    public struct Kernel: Codable, Sendable {
        public var name: String
        public var milliseconds: Double
        public var gflops: Double?
        public var share: Double
    }
    public var device: String
    public var batch: Int
    public var trainImagesPerSecond: Double
    public var inferenceImagesPerSecond: Double
    public var trainStepMilliseconds: Double
    public var inferenceBatchMilliseconds: Double
    public var trainGFLOPs: Double
    public var ceilingGFLOPs: Double?
    /// The training step's cold start (pipeline creation, first-use compilation, one step) minus a steady step.
    public var pipelineCompileSeconds: Double
    public var deviceMemoryBytes: Int
    public var minimumMemoryBytes: Int
    public var kernels: [Kernel]

    enum CodingKeys: String, CodingKey {
        case device, batch
        case trainImagesPerSecond = "train_images_per_second"
        case inferenceImagesPerSecond = "inference_images_per_second"
        case trainStepMilliseconds = "train_step_ms"
        case inferenceBatchMilliseconds = "inference_batch_ms"
        case trainGFLOPs = "train_gflops"
        case ceilingGFLOPs = "sgemm_ceiling_gflops"
        case pipelineCompileSeconds = "pipeline_compile_seconds"
        case deviceMemoryBytes = "device_memory_bytes"
        case minimumMemoryBytes = "minimum_memory_bytes"
        case kernels
    }
}

/// The dispatches of a training step and of inference for one kernel configuration, recorded but not
/// run (`galaxy bench --plan`): how much parallel work each one gives a device.
public struct LaunchPlan: Encodable, Sendable {
    public struct Pass: Encodable, Sendable { public var dispatches: [DispatchRecord] }
    public var config: String
    public var batch: Int
    public var train: Pass
    public var inference: Pass
    /// A test batch of an evaluation: forward pass and the per-column sums (eval_sums).
    public var evaluation: Pass
    /// The same training step and test batch with the Dirichlet head and loss (`--loss dirichlet`, vote counts).
    public var dirichletTrain: Pass
    public var dirichletEvaluation: Pass
    /// The training step with the decision-tree output layer (`--output constrained`, softplus form) in the built-in
    /// tree of the outputs, when there is one (the Kaggle tree for 37): its two shaders' pipelines.
    public var constrainedTrain: Pass
    /// Split-reduction scratch the configuration adds to the network's buffers.
    public var scratchBytes: Int
    enum CodingKeys: String, CodingKey {
        case config, batch, train, inference, evaluation, scratchBytes = "scratch_bytes"
        case dirichletTrain = "dirichlet_train", dirichletEvaluation = "dirichlet_evaluation", constrainedTrain = "constrained_train"
    }

    /// Every pass by the name `galaxy bench --shader-stats` lists it under.
    public var passes: [(name: String, pass: Pass)] {
        [("train", train), ("inference", inference), ("evaluation", evaluation), ("dirichlet train", dirichletTrain),
         ("dirichlet evaluation", dirichletEvaluation), ("constrained train", constrainedTrain)]
    }
}

/// The recorded passes of a launch plan (the sequences keep their buffers and pipelines alive).
struct RecordedPlan {
    var train, infer, evaluation, dirichletTrain, dirichletEvaluation, constrainedTrain: CommandSequence
    var kernels: Kernels

    /// The passes by name, in the order `LaunchPlan.passes` gives them.
    var passes: [(name: String, sequence: CommandSequence)] {
        [("train", train), ("inference", infer), ("evaluation", evaluation), ("dirichlet train", dirichletTrain),
         ("dirichlet evaluation", dirichletEvaluation), ("constrained train", constrainedTrain)]
    }
}

extension Benchmark {
    /// Records (without submitting) a training step and an inference batch on `path`. Pipelines are
    /// created but not dispatched, so no kernel is compiled by a driver that compiles on first use.
    public static func launchPlan(context: VulkanContext, path: KernelPath, config: String, batch: Int = 128, outputs: Int = 37) throws -> LaunchPlan {
        let r = try recordPlan(context: context, path: path, batch: batch, outputs: outputs)
        return LaunchPlan(config: config, batch: batch, train: .init(dispatches: r.train.records), inference: .init(dispatches: r.infer.records),
                          evaluation: .init(dispatches: r.evaluation.records), dirichletTrain: .init(dispatches: r.dirichletTrain.records),
                          dirichletEvaluation: .init(dispatches: r.dirichletEvaluation.records),
                          constrainedTrain: .init(dispatches: r.constrainedTrain.records), scratchBytes: r.kernels.scratchBytes)
    }

    /// A training step, an inference batch and an evaluation's test batch recorded on `path` with all-zero
    /// data, then a training step and a test batch of the Dirichlet head (vote counts) in the built-in tree of
    /// `outputs` columns (one question of them all when no tree has that many).
    static func recordPlan(context: VulkanContext, path: KernelPath, batch: Int, outputs: Int) throws -> RecordedPlan {
        let kernels = Kernels(context, path: path)
        let net = try DeviceNetwork(kernels: kernels, outputs: outputs, maxBatch: batch, training: true)
        // One batch of images, resident (its budget is its size: a compile-only device has no heap to size it by).
        let images = [UInt8](repeating: 0, count: batch * GalaxyDataset.imageBytes)
        let data = try DeviceDataset(context, images: images, side: GalaxyDataset.imageSide, targets: [Float](repeating: 0, count: batch * outputs),
                                     targetWidth: outputs, budget: (images.count + 3) / 4 * 4)
        let indices = try DeviceBuffer(context, bytes: batch * 4, label: "indices", hostVisible: true)
        let train = try CommandSequence(context), infer = try CommandSequence(context)
        try recordPasses(train: train, infer: infer, data: data, net: net, indices: indices, batch: batch)
        let evaluation = try CommandSequence(context)
        try recordEvaluation(evaluation, data: data, net: net, indices: indices, batch: batch)

        let starts = AnswerSchema.builtIn.first { $0.answerCount == outputs }?.questionStarts ?? [0, outputs]
        let counts = try DeviceNetwork(kernels: kernels, outputs: outputs, maxBatch: batch, training: true, outputMode: .dirichlet, questionStarts: starts)
        let dirichletTrain = try CommandSequence(context), dirichletEvaluation = try CommandSequence(context)
        try data.recordBatch(dirichletTrain, kernels: kernels, indices: indices, batch: batch, mode: .random(seed: 1, epoch: 0), input: counts.input, target: counts.target)
        try counts.recordTrainingStep(dirichletTrain, batch: batch, update: (0, 0.9))
        // A test batch as Trainer.evaluate records it: the NLL accumulates in loss slot 1.
        try recordEvaluation(dirichletEvaluation, data: data, net: counts, indices: indices, batch: batch)
        try counts.recordLoss(dirichletEvaluation, batch: batch, slot: 1, accumulate: true)
        // The decision-tree output layer's step with Adam (make demo's recipe), in the built-in tree of `outputs` answers
        // (none: an empty pass).
        let constrainedTrain = try CommandSequence(context)
        if let tree = AnswerSchema.builtIn.first(where: { $0.answerCount == outputs }) {
            let constrained = try DeviceNetwork(kernels: kernels, outputs: outputs, maxBatch: batch, training: true, outputMode: .constrained, tree: tree,
                                                    optimizer: .adam)
            try data.recordBatch(constrainedTrain, kernels: kernels, indices: indices, batch: batch, mode: .random(seed: 1, epoch: 0),
                                 input: constrained.input, target: constrained.target)
            try constrained.recordTrainingStep(constrainedTrain, batch: batch, update: (0, 0.9))
        }
        return RecordedPlan(train: train, infer: infer, evaluation: evaluation, dirichletTrain: dirichletTrain,
                            dirichletEvaluation: dirichletEvaluation, constrainedTrain: constrainedTrain, kernels: kernels)
    }

    /// An evaluation's test batch: the images without augmentation, the forward pass, the per-column sums.
    static func recordEvaluation(_ seq: CommandSequence, data: DeviceDataset, net: DeviceNetwork, indices: DeviceBuffer, batch: Int) throws {
        try data.recordBatch(seq, kernels: net.kernels, indices: indices, batch: batch, mode: .none, input: net.input, target: net.target)
        try net.recordForward(seq, batch: batch)
        try net.recordEvaluationSums(seq, batch: batch)
    }
}

extension Benchmark {
    /// A whole training step (augment -> forward -> loss -> backward -> SGD with lr 0, which keeps the
    /// weights and so the work the same from run to run) into `train`, an inference batch into `infer`.
    static func recordPasses(train: CommandSequence, infer: CommandSequence, data: DeviceDataset, net: DeviceNetwork,
                             indices: DeviceBuffer, batch: Int) throws {
        try data.recordBatch(train, kernels: net.kernels, indices: indices, batch: batch, mode: .random(seed: 1, epoch: 0), input: net.input, target: net.target)
        try net.recordTrainingStep(train, batch: batch, update: (0, 0.9))
        try data.recordBatch(infer, kernels: net.kernels, indices: indices, batch: batch, mode: .none, input: net.input, target: nil)
        try net.recordForward(infer, batch: batch)
    }
}

/// Times a full training step (augment -> forward -> loss -> backward -> SGD) and inference on
/// synthetic data, steady state after warm-up, median of `runs`.
public enum Benchmark {
    /// What a long training run gets (lavapipe: the share path); GALAXY_TILES=quick|narrow|portable|gpu measures the others.
    static func steadyPath(_ context: VulkanContext) -> KernelPath { .forWork(context.info, images: .max, training: true) }

    public static func run(context: VulkanContext, batch: Int = 128, runs: Int = 5, outputs: Int = 37,
                           log: (String) -> Void = { _ in }) throws -> BenchmarkResult {
        let kernels = Kernels(context, path: steadyPath(context))
        let net = try DeviceNetwork(kernels: kernels, outputs: outputs, maxBatch: batch, training: true)
        try net.setWeights(ModelWeights(outputs: outputs, seed: 1))
        var rng = SplitMix64(seed: 3)
        let count = batch
        let images = (0..<(count * GalaxyDataset.imageBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let targets = (0..<(count * outputs)).map { _ in rng.uniform(0, 1) }
        let data = try DeviceDataset(context, images: images, side: GalaxyDataset.imageSide, targets: targets, targetWidth: outputs)
        let indices = try DeviceBuffer(context, bytes: batch * 4, label: "indices", hostVisible: true)
        try indices.upload((0..<UInt32(batch)).map { $0 })

        // From here to the end of the first step: creating the pipelines (and, on llvmpipe, their first-use
        // JIT compilation) plus one step; a steady step subtracted, that is `pipeline_compile_seconds`.
        let coldStart = DispatchTime.now().uptimeNanoseconds
        let train = try CommandSequence(context, timestamps: true), infer = try CommandSequence(context)
        try recordPasses(train: train, infer: infer, data: data, net: net, indices: indices, batch: batch)

        var firstEnd: UInt64?
        func median(_ body: () throws -> Void) throws -> Double {
            try body()  // warm-up
            if firstEnd == nil { firstEnd = DispatchTime.now().uptimeNanoseconds }
            var times: [Double] = []
            for _ in 0..<runs {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try body()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            }
            return times.sorted()[times.count / 2]
        }
        log("timing a training step at batch \(batch) on \(context.info.name)...")
        let trainTime = try median { try train.submit() }
        let coldStep = Double(firstEnd! - coldStart) * 1e-9
        let timings = try train.timings()
        log("timing inference...")
        let inferTime = try median { try infer.submit() }

        log("timing the SGEMM ceiling (1024 x 1024 x 1024)...")
        let ceiling = try gemmCeiling(context: context, kernels: kernels, runs: min(runs, 3), median: median)

        let flops = flopTable(batch: batch, outputs: outputs)
        let totalKernel = timings.reduce(0) { $0 + $1.seconds }
        var merged: [(String, Double)] = []
        for (label, s) in timings {
            if let i = merged.firstIndex(where: { $0.0 == label }) { merged[i].1 += s } else { merged.append((label, s)) }
        }
        let kernelRows = merged.map { label, s in
            BenchmarkResult.Kernel(name: label, milliseconds: s * 1e3, gflops: flops[label].map { $0 / s / 1e9 }, share: totalKernel > 0 ? s / totalKernel : 0)
        }
        let perImageFlops = flops.values.reduce(0, +) / Double(batch)
        return BenchmarkResult(
            device: context.info.name, batch: batch,
            trainImagesPerSecond: Double(batch) / trainTime, inferenceImagesPerSecond: Double(batch) / inferTime,
            trainStepMilliseconds: trainTime * 1e3, inferenceBatchMilliseconds: inferTime * 1e3,
            trainGFLOPs: perImageFlops * Double(batch) / trainTime / 1e9, ceilingGFLOPs: ceiling,
            pipelineCompileSeconds: max(0, coldStep - trainTime),
            deviceMemoryBytes: net.deviceBytes, minimumMemoryBytes: DeviceNetwork.minimumBytes(outputs: outputs, batch: batch),
            kernels: kernelRows)
    }

    /// The path of the ceiling's SGEMM: the device's, with 16 columns per lane on the share path. At 1024^3
    /// that ran ~1.5x faster than the network's on lavapipe (docs/performance.md), but its pipelines take
    /// several times longer to compile, and at the fully connected layers' sizes it gained nothing.
    static func ceilingPath(_ path: KernelPath) -> KernelPath {
        guard case .subgroupShare(var t) = path else { return path }
        t.gemmLaneColumns = 16
        return .subgroupShare(t)
    }

    /// GFLOP/s of our own SGEMM (the sgemm shader, `ceilingPath`) at 1024^3: the device's measured GEMM ceiling.
    static func gemmCeiling(context: VulkanContext, kernels deviceKernels: Kernels, runs: Int, median: (() throws -> Void) throws -> Double) throws -> Double {
        let kernels = Kernels(context, path: ceilingPath(deviceKernels.path))
        let n = 1024
        let shape = GemmShape(m: n, n: n, k: n)
        let a = try DeviceBuffer(context, floats: n * n, label: "gemm a"), b = try DeviceBuffer(context, floats: n * n, label: "gemm b")
        let c = try DeviceBuffer(context, floats: n * n, label: "gemm c")
        var rng = SplitMix64(seed: 5)
        try a.upload((0..<(n * n)).map { _ in rng.uniform(-1, 1) })
        try b.upload((0..<(n * n)).map { _ in rng.uniform(-1, 1) })
        let seq = try CommandSequence(context)
        try kernels.sgemm(seq, a: a.whole, b: b.whole, c: c.whole, shape: shape)
        let seconds = try median { try seq.submit() }
        return 2 * Double(shape.macs) / seconds / 1e9
    }

    /// FLOPs (2 per multiply-add) of each shader in one training step, keyed by shader name.
    static func flopTable(batch b: Int, outputs: Int) -> [String: Double] {
        let n = SanderDielemanNet.self
        let convs = [n.conv1(b), n.conv2(b), n.conv3(b), n.conv4(b)]
        let fcs = [n.fc1(b), n.fc2(b), n.fc3(b, outputs: outputs)]
        let convMacs = Double(convs.map(\.macs).reduce(0, +))
        // conv1's input gradient is not computed.
        let convInputMacs = Double(convs.dropFirst().map(\.macs).reduce(0, +))
        let fcMacs = Double(fcs.map(\.macs).reduce(0, +))
        return [
            "conv2d_forward": 2 * convMacs, "conv2d_backward_weight": 2 * convMacs, "conv2d_backward_input": 2 * convInputMacs,
            "linear_forward": 2 * fcMacs, "linear_backward_weight": 2 * fcMacs, "linear_backward_input": 2 * fcMacs,
        ]
    }
}

/// `galaxy bench` under mpirun: one rank's training step against N ranks' (each the gradient of its shard,
/// the gradients summed over the ranks, the same SGD step on every rank), at the same global batch.
public struct DistributedBenchmarkResult: Encodable, Sendable {
    public var ranks: Int
    public var batch: Int
    /// Rank 0 alone, the whole batch (the others wait).
    public var oneRankImagesPerSecond: Double
    /// All ranks, each a shard of the batch, gradients exchanged.
    public var ranksImagesPerSecond: Double
    /// ranksImagesPerSecond / (ranks * oneRankImagesPerSecond).
    public var scalingEfficiency: Double
    /// Median per step: reading the gradient back, the MPI sum, writing it to the device.
    public var exchangeMilliseconds: Double
    public var gradientBytes: Int

    // The keys of `bench --json` (snake case, as the one-process figures).
    enum CodingKeys: String, CodingKey {
        case ranks, batch
        case oneRankImagesPerSecond = "one_rank_images_per_second", ranksImagesPerSecond = "ranks_images_per_second"
        case scalingEfficiency = "scaling_efficiency", exchangeMilliseconds = "exchange_milliseconds", gradientBytes = "gradient_bytes"
    }
}

extension Benchmark {
    public static func distributed(context: VulkanContext, world: MPIWorld, batch: Int = 128, runs: Int = 5, outputs: Int = 37,
                                   log: (String) -> Void = { _ in }) throws -> DistributedBenchmarkResult {
        let kernels = Kernels(context, path: steadyPath(context))
        let net = try DeviceNetwork(kernels: kernels, outputs: outputs, maxBatch: batch, training: true)
        try net.setWeights(ModelWeights(outputs: outputs, seed: 1))
        var rng = SplitMix64(seed: 3)
        let images = (0..<(batch * GalaxyDataset.imageBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let targets = (0..<(batch * outputs)).map { _ in rng.uniform(0, 1) }
        let data = try DeviceDataset(context, images: images, side: GalaxyDataset.imageSide, targets: targets, targetWidth: outputs)
        let indices = try DeviceBuffer(context, bytes: batch * 4, label: "indices", hostVisible: true)
        let mine = Trainer.shard(batch, rank: world.rank, ranks: world.size)
        try indices.upload(mine.map { UInt32($0) })

        func gradientPass(_ b: Int) throws -> CommandSequence {
            let seq = try CommandSequence(context)
            try data.recordBatch(seq, kernels: kernels, indices: indices, batch: b, mode: .none, input: net.input, target: net.target)
            try net.recordTrainingStep(seq, batch: b, lossBatch: batch, update: nil)
            return seq
        }
        let sgd = try CommandSequence(context)
        try net.recordUpdate(sgd, lr: 1e-6, momentum: 0.9)
        func median(_ times: [Double]) -> Double { times.sorted()[times.count / 2] }

        // One rank: rank 0 steps through the whole batch while the others wait.
        var one = 0.0
        if world.rank == 0 {
            log("timing one rank at batch \(batch)...")
            try indices.upload((0..<UInt32(batch)).map { $0 })
            let whole = try gradientPass(batch)
            var times: [Double] = []
            for i in 0...runs {
                let t0 = Date()
                try whole.submit()
                try sgd.submit()
                if i > 0 { times.append(Date().timeIntervalSince(t0)) }
            }
            one = median(times)
            try indices.upload(mine.map { UInt32($0) })
        }
        try world.barrier()

        // All ranks.
        if world.rank == 0 { log("timing \(world.size) ranks, \(mine.count) images each...") }
        let shardPass = mine.isEmpty ? nil : try gradientPass(mine.count)
        var steps: [Double] = [], exchanges: [Double] = []
        let n = net.parameterCount
        for i in 0...runs {
            try world.barrier()
            let t0 = Date()
            try shardPass?.submit()
            let t1 = Date()
            let grads = shardPass == nil ? [Float](repeating: 0, count: n) : try net.grads!.download(count: n)
            try net.grads!.upload(try world.sum(grads))
            let t2 = Date()
            try sgd.submit()
            if i > 0 {
                steps.append(Date().timeIntervalSince(t0))
                exchanges.append(t2.timeIntervalSince(t1))
            }
        }
        // Rank 0's figures, and the slowest rank's step (the ranks wait for each other in the sum).
        let slowest = try world.allGather([median(steps)]).map { $0[0] }.max()!
        let exchange = median(exchanges)
        let oneRank = try world.broadcast([one])[0]
        let ranksRate = Double(batch) / slowest, oneRate = Double(batch) / oneRank
        return DistributedBenchmarkResult(ranks: world.size, batch: batch, oneRankImagesPerSecond: oneRate, ranksImagesPerSecond: ranksRate,
                                          scalingEfficiency: ranksRate / (Double(world.size) * oneRate), exchangeMilliseconds: exchange * 1e3,
                                          gradientBytes: 4 * n)
    }
}

/// `galaxy bench stream`: a training pass over a synthetic data set several times the device memory
/// given to its images, all resident against streamed through the two slots, in the same process.
public struct StreamBenchmarkResult: Encodable, Sendable {
    public var device: String
    public var batch: Int
    public var images: Int
    public var dataBytes: Int
    /// Device memory given to the streamed run's images, and what its two slots hold.
    public var budgetBytes: Int
    public var slotImages: Int
    public var residentImagesPerSecond: Double
    public var streamedImagesPerSecond: Double
    /// streamed / resident images/s.
    public var ratio: Double
    /// Whether the two passes left the same weights, bit for bit.
    public var bitIdentical: Bool

    enum CodingKeys: String, CodingKey {
        case device, batch, images, ratio
        case dataBytes = "data_bytes", budgetBytes = "budget_bytes", slotImages = "slot_images"
        case residentImagesPerSecond = "resident_images_per_second", streamedImagesPerSecond = "streamed_images_per_second"
        case bitIdentical = "bit_identical"
    }
}

extension Benchmark {
    /// Median images/s of `runs` training passes (augment, forward, backward, SGD, one step launched
    /// ahead) over `images` random images, resident and streamed alternately; `budget` defaults to a
    /// quarter of the images' bytes.
    public static func stream(context: VulkanContext, batch: Int = 128, images: Int = 1024, budget: Int? = nil, runs: Int = 1,
                              log: (String) -> Void = { _ in }) throws -> StreamBenchmarkResult {
        let outputs = 37
        var rng = SplitMix64(seed: 7)
        let bytes = (0..<(images * GalaxyDataset.imageBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let targets = (0..<(images * outputs)).map { _ in rng.uniform(0, 1) }
        let budget = budget ?? bytes.count / 4
        let steps = stride(from: 0, to: images, by: batch).map { Array($0..<min(images, $0 + batch)) }
        let kernels = Kernels(context, path: .forWork(context.info, images: (2 * runs + 1) * images, training: true))
        let net = try DeviceNetwork(kernels: kernels, outputs: outputs, maxBatch: batch, training: true)
        let initial = ModelWeights(outputs: outputs, seed: 1)
        let resident = try DeviceDataset(context, images: bytes, side: GalaxyDataset.imageSide, targets: targets, targetWidth: outputs,
                                         budget: Int.max, batch: batch)
        let streamed = try DeviceDataset(context, images: bytes, side: GalaxyDataset.imageSide, targets: targets, targetWidth: outputs,
                                         budget: budget, batch: batch)
        guard case .streamed(let slotImages) = streamed.residency else {
            throw GalaxyError.message("\(ByteSize.describe(bytes.count)) of images fit the \(ByteSize.describe(budget)) given: nothing to stream")
        }
        // [resident, streamed]: a feeder and its recorded steps (by batch and index buffer) each.
        let feeders = try [resident, streamed].map { try BatchFeeder(data: $0, maxBatch: batch, label: "bench") }
        var sequences: [[[Int]: CommandSequence]] = [[:], [:]]
        /// One pass of feeder `k` from the same weights; its seconds and the weights it leaves.
        func pass(_ k: Int, steps: [[Int]]) throws -> (Double, ModelWeights) {
            let feeder = feeders[k]
            try net.setWeights(initial)
            try net.setMomentum([Float](repeating: 0, count: net.parameterCount))
            let t0 = Date()
            try feeder.begin(steps)
            for (i, rows) in steps.enumerated() {
                let key = [rows.count, i % 2]
                let seq = try sequences[k][key] ?? {
                    let s = try CommandSequence(context)
                    try feeder.recordBatch(s, kernels: kernels, parity: i % 2, batch: rows.count, mode: .random(seed: 1, epoch: 1), input: net.input, target: net.target)
                    try net.recordTrainingStep(s, batch: rows.count, update: (0.01, 0.9))
                    return s
                }()
                sequences[k][key] = seq
                try feeder.run(step: i, seq)
            }
            try feeder.finish()
            return (Date().timeIntervalSince(t0), try net.weights())
        }
        log("warming up (pipelines of a training step)...")
        _ = try pass(0, steps: Array(steps.prefix(2)))
        _ = try pass(1, steps: Array(steps.prefix(2)))
        var times: [[Double]] = [[], []]
        var last: [ModelWeights] = []
        for r in 0..<runs {
            for k in 0..<2 {
                log("\(k == 0 ? "resident" : "streamed") pass \(r + 1) of \(runs): \(images) images at batch \(batch)...")
                let (seconds, weights) = try pass(k, steps: steps)
                times[k].append(seconds)
                if r == runs - 1 { last.append(weights) }
            }
        }
        let median = times.map { $0.sorted()[$0.count / 2] }
        let rates = median.map { Double(images) / $0 }
        let same = last[0].names.allSatisfy { name in last[0][name].map(\.bitPattern) == last[1][name].map(\.bitPattern) }
        return StreamBenchmarkResult(device: context.info.name, batch: batch, images: images, dataBytes: bytes.count, budgetBytes: budget,
                                     slotImages: slotImages, residentImagesPerSecond: rates[0], streamedImagesPerSecond: rates[1],
                                     ratio: rates[1] / rates[0], bitIdentical: same)
    }
}
