import Foundation

/// Hyperparameters of `galaxy train`; the defaults are the seed's recipe.
public struct TrainOptions: Codable, Sendable, Equatable {
    public var epochs = 100
    public var batch = 128
    public var learningRate: Float = 0.1
    public var momentum: Float = 0.9
    /// The optimizer; nil (runs written before Adam) is SGD.
    public var optimizer: Optimizer?
    public var splitSeed: UInt32 = 42
    public var testFraction = 0.2
    public var augment = true
    public var augmentSeed: UInt32 = 42
    /// The seed's DataLoader does not shuffle (the split's order is already random); `--shuffle` reorders per epoch.
    public var shuffle = false
    public var initSeed: UInt64 = 1234
    /// ReduceLROnPlateau stepped on the test loss each epoch (the seed creates it but never steps it).
    public var plateau = true
    public var plateauFactor: Float = 0.1
    public var plateauPatience = 10
    public var plateauThreshold = 1e-4
    public var outputMode = OutputMode.relu
    /// Start fc3's bias at the training targets' column means instead of PyTorch's random init: every
    /// output starts alive (above the final ReLU) at the constant-mean predictor, which skips the first
    /// epochs' plateau. Off by default (the seed's init).
    public var meanOutputBias = false
    /// Start fc3's bias at this value instead (Dieleman's winning model used 0.1); nil: PyTorch's init.
    public var outputBias: Float?
    /// The decision tree of the data's columns (AnswerSchema's JSON form); nil: the columns as the CSV has them.
    public var schema: String?
    /// `--freeze convolutions`: train only the dense layers (nil or false: all layers).
    public var freezeConvolutions: Bool?
    public init() {}
}

/// The weights' update rule: torch.optim.SGD with momentum (the seed's), or torch.optim.Adam (AdamSettings' constants).
public enum Optimizer: String, Codable, Sendable, CaseIterable {
    case sgd, adam
    /// The learning rate when none is given: the seed's 0.1 for SGD, PyTorch's default 0.001 for Adam.
    public var defaultLearningRate: Float { self == .sgd ? 0.1 : 0.001 }
}

/// PyTorch's ReduceLROnPlateau(mode='min', threshold_mode='rel', cooldown=0, min_lr=0, eps=1e-8).
public struct PlateauScheduler: Codable, Sendable, Equatable {
    /// Best value seen so far (nil before the first epoch; JSON has no infinity).
    public var best: Double?
    public var badEpochs = 0
    public var factor: Float
    public var patience: Int
    public var threshold: Double

    public init(factor: Float, patience: Int, threshold: Double) {
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
    }

    /// Returns the learning rate to use after an epoch whose monitored value is `metric`.
    public mutating func step(metric: Double, lr: Float) -> Float {
        if metric < (best ?? .infinity) * (1 - threshold) {
            best = metric
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        guard badEpochs > patience else { return lr }
        badEpochs = 0
        let reduced = lr * factor
        return lr - reduced > 1e-8 ? reduced : lr
    }
}

/// One row of metrics.csv.
public struct EpochMetrics: Codable, Sendable, Equatable {
    public var epoch: Int
    public var trainRMSE: Double
    public var testRMSE: Double
    public var learningRate: Float
    public var seconds: Double
    public var imagesPerSecond: Double
    /// Seconds of `seconds` during which the device had steps (training and evaluation) launched and not
    /// yet waited for; the rest is the host's own time. nil in runs written before it was recorded.
    public var stepSeconds: Double?
    /// The part of the epoch in which the device had nothing to run: 1 - stepSeconds / seconds.
    public var hostShare: Double? { stepSeconds.map { seconds > 0 ? max(0, 1 - $0 / seconds) : 0 } }
    /// Outputs that answered 0 for every test image (dead behind the final ReLU); nil in runs written before.
    public var deadOutputs: Int?
    /// Test RMSE of each Galaxy Zoo question's answer columns (Q1 first); nil for other columns and in older runs.
    public var testRMSEByQuestion: [Double]?
    /// What trainRMSE and testRMSE hold: nil, the RMSE; `EpochMetrics.nll`, a Dirichlet run's mean negative
    /// log-likelihood of a galaxy's counts.
    public var measure: String?
    public static let nll = "nll"
}

/// Everything besides the weights that a resumed run needs to continue exactly where it stopped.
public struct TrainingState: Codable, Sendable {
    public var formatVersion = 1
    public var options: TrainOptions
    public var outputs: Int
    public var columns: [String]
    /// Epochs fully done; the next step is `step` of epoch `epoch + 1` (1-based epochs).
    public var epoch: Int
    public var step: Int
    /// Bit pattern of the on-device training-loss accumulator at `step` (mid-epoch stops).
    public var partialLossBits: UInt32
    public var partialSeconds: Double
    public var partialStepSeconds: Double?
    public var learningRate: Float
    public var scheduler: PlateauScheduler
    public var bestTestRMSE: Double?
    public var splitDigest: String
    public var weightsDigest: String
    public var metrics: [EpochMetrics]
}

public enum TrainingError: Error, CustomStringConvertible {
    case nonFinite(epoch: Int, step: Int, checkpoint: String)
    case invalid(String)
    /// The device failed (lost, out of memory) during training: what failed, and what is saved.
    case deviceFailed(DeviceFailure, what: String, saved: String)
    public var description: String {
        switch self {
        case .nonFinite(let e, let s, let c):
            return "training loss became NaN or infinite at epoch \(e), step \(s): stopped; the last good checkpoint is \(c) (try a lower --lr)"
        case .invalid(let m): return m
        case .deviceFailed(_, let what, let saved): return "\(what). \(saved)"
        }
    }
    public var deviceFailure: DeviceFailure? {
        if case .deviceFailed(let f, _, _) = self { return f }
        return nil
    }
}

/// How a training run ended.
public enum TrainOutcome: Equatable {
    case finished
    case interrupted
    /// `stopWhenDead`: every output died in the last epoch (the checkpoints of that epoch are written).
    case dead
}

/// The test set's sums: the squared error (total and per column) and each column's outputs.
struct TestEvaluation {
    var total: Double
    var columnSquaredErrors: [Double]
    /// Outputs are never negative, so a column whose sum is 0 answered 0 for every test image.
    var columnOutputSums: [Double]
}

/// Trains SanderDielemanNet on the device: one recorded command buffer per step shape, replayed per
/// batch with only the batch's indices written by the host; losses accumulate on the device and are
/// read every few steps for the progress line and once per epoch.
public final class Trainer {
    public let context: VulkanContext
    public let data: GalaxyDataset
    /// The run directory: every file of the run is written through it.
    public let directory: RunDirectory
    public var runDir: URL { directory.url }
    public private(set) var state: TrainingState
    public let train: [Int]
    public let test: [Int]
    let network: DeviceNetwork
    let deviceData: DeviceDataset
    let trainFeeder: BatchFeeder
    let evalFeeder: BatchFeeder
    public var log: (String) -> Void = { print($0) }
    public var progress: ProgressReporter?
    /// Steps between loss read-backs for the progress line.
    public var readbackEvery = 8
    /// The ranks of a distributed run (nil: this process alone). Each rank computes the gradient of its
    /// contiguous shard of every batch; the gradients are summed over the ranks in rank order and every
    /// rank applies the same SGD step. Rank 0 alone writes files and logs.
    public let world: MPIWorld?
    var rank: Int { world?.rank ?? 0 }
    /// Seconds spent exchanging gradients (read-back, MPI, upload) since the epoch began.
    public internal(set) var exchangeSeconds: Double = 0
    /// The run's TensorBoard event file (rank 0).
    var tensorBoard: TensorBoardLog?

    public static let lastWeights = RunDirectory.lastWeights
    public static let lastState = RunDirectory.lastState
    public static let bestWeights = RunDirectory.bestWeights
    /// Seconds between the resumable states written inside an epoch (at a step boundary); nil: only at
    /// epoch ends and stops. 0: after every step.
    public var checkpointInterval: TimeInterval? = Trainer.defaultCheckpointInterval
    public static let defaultCheckpointInterval: TimeInterval = 15 * 60
    /// When the resumable state was last written (or the run started).
    var lastSave = Date()
    /// The (epoch, step) of the resumable state on disk: what a failure leaves to resume from.
    public internal(set) var saved: (epoch: Int, step: Int)?
    /// Stop (outcome `.dead`) at the end of an epoch in which every output died.
    public var stopWhenDead = false
    /// The run's decision tree (TrainOptions.schema), nil for plain columns.
    public let schema: AnswerSchema?
    /// The tree of the outputs: the run's schema, else the built-in one the columns are (nil: plain columns).
    public let tree: AnswerSchema?
    /// `tree` when the output layer is the constrained one, which needs it.
    public let constrainedTree: AnswerSchema?
    /// A Dirichlet run: the head outputs concentrations and the loss is the counts' negative log-likelihood.
    public var isDirichlet: Bool { options.outputMode == .dirichlet }
    /// Where warnings go (dead outputs, a loss that stopped changing, worse than the baseline): the progress
    /// line's notes when there is one, else `log`. Every warning is also kept in `warnings`.
    public private(set) var warnings: [String] = []
    func warn(_ message: String) {
        warnings.append(message)
        if let progress { progress.note(message) } else { log(message) }
    }

    /// A new run (`resume` false) or the continuation of the run in `runDir`.
    /// `resumeEpochs`: a new total number of epochs for a resumed run (known here: the kernels' tiles depend on
    /// the work left). `deviceMemory`: device memory for the data set's images (nil: `DeviceDataset.defaultBudget`);
    /// images beyond it stream.
    /// `directory`: the run directory as claimed by this process (`RunDirectory.claim`); nil: `runDir`, unlocked.
    /// `newHead`: `initWeights` carry a fresh dense head (`withNewHead`), which --mean-output-bias starts like a new run's.
    public init(context: VulkanContext, data: GalaxyDataset, runDir: URL, options: TrainOptions, initWeights: ModelWeights?, resume: Bool,
                resumeEpochs: Int? = nil, world: MPIWorld? = nil, deviceMemory: Int? = nil, directory: RunDirectory? = nil,
                newHead: Bool = false) throws {
        self.context = context
        self.world = world
        self.data = data
        self.directory = directory ?? RunDirectory(unlocked: runDir)
        let k = data.columns.count
        guard data.count >= 2 else { throw TrainingError.invalid("the data set has \(data.count) labelled galaxies: at least 2 are needed to split") }
        var weights: ModelWeights
        var optimizerState = OptimizerState()
        if resume {
            let (w, m, s) = try Self.loadResumable(self.directory, data: data)
            weights = w
            optimizerState = m
            state = s
            saved = (s.epoch, s.step)
            if let resumeEpochs {
                guard resumeEpochs > state.epoch else {
                    throw TrainingError.invalid("--epochs \(resumeEpochs): the run in \(runDir.path) has already done \(state.epoch) epoch(s)")
                }
                state.options.epochs = resumeEpochs
            }
        } else {
            guard options.batch >= 1, options.epochs >= 1 else { throw TrainingError.invalid("--batch and --epochs must be at least 1") }
            if let initWeights, initWeights.outputs != k {
                throw TrainingError.invalid("--init weights have \(initWeights.outputs) outputs but the data has \(k) target columns")
            }
            weights = initWeights ?? ModelWeights(outputs: k, seed: options.initSeed)
            state = TrainingState(options: options, outputs: k, columns: data.columns, epoch: 0, step: 0, partialLossBits: 0, partialSeconds: 0,
                                  learningRate: options.learningRate,
                                  scheduler: PlateauScheduler(factor: options.plateauFactor, patience: options.plateauPatience, threshold: options.plateauThreshold),
                                  bestTestRMSE: nil, splitDigest: "", weightsDigest: "", metrics: [])
        }
        let split = trainTestSplit(count: data.count, testFraction: state.options.testFraction, seed: state.options.splitSeed)
        guard !split.train.isEmpty, !split.test.isEmpty else {
            throw TrainingError.invalid("the split of \(data.count) galaxies left an empty train or test set")
        }
        schema = try state.options.schema.map { try AnswerSchema(json: Data($0.utf8), source: "the run's schema") }
        if state.options.outputMode == .dirichlet {
            guard let schema else { throw TrainingError.invalid("--loss dirichlet needs the decision tree of the columns (--schema)") }
            guard schema.columnNames == data.columns else {
                throw TrainingError.invalid("the data's columns are not the schema \"\(schema.name)\"'s, in its order")
            }
        }
        tree = AnswerSchema.implied(outputs: k, columns: data.columns, recorded: schema)
        if state.options.outputMode.constrainedForm != nil {
            guard let tree else {
                throw TrainingError.invalid("the constrained output layer needs the decision tree of the data's \(k) columns (--schema NAME|FILE)")
            }
            constrainedTree = tree
        } else {
            constrainedTree = nil
        }
        // A fresh head (a new run's, or a new one on --init-weights' convolutions) may start at the constant predictor.
        let freshHead = !resume && (initWeights == nil || newHead)
        if freshHead && options.meanOutputBias && options.outputMode == .dirichlet {
            // The constant-concentration baseline: the head starts where a model that ignores the image is best.
            weights["fc3.bias"] = CountStatistics.bias(for: CountStatistics.constantConcentrations(
                counts: data.targets, width: k, rows: split.train, questionStarts: schema!.questionStarts))
        } else if freshHead && options.meanOutputBias {
            let means = Metrics.columnMeans(data.targets, width: k, rows: split.train)
            if let form = options.outputMode.constrainedForm, let tree = constrainedTree {
                weights["fc3.bias"] = Reference.constrainedOutputBias(means: means.map(Double.init), tree: tree, form: form, scale: Self.treeBiasScale).map(Float.init)
            } else {
                weights["fc3.bias"] = means
            }
        } else if freshHead, let bias = options.outputBias {
            weights["fc3.bias"] = [Float](repeating: bias, count: k)
        }
        train = split.train
        test = split.test
        let digest = Self.splitDigest(ids: data.ids, train: train)
        if resume && digest != state.splitDigest {
            throw TrainingError.invalid("\(runDir.path): the data set or split differs from the one this run was trained on; cannot resume")
        }
        state.splitDigest = digest
        let batch = state.options.batch
        // The kernels by the work left (KernelPath.forWork).
        let passes = (state.options.epochs - state.epoch) * (train.count + test.count) / (world?.size ?? 1)
        network = try DeviceNetwork(kernels: Kernels(context, path: KernelPath.forWork(context.info, images: passes, training: true)), outputs: k, maxBatch: batch,
                                    training: true, outputMode: state.options.outputMode,
                                    questionStarts: state.options.outputMode == .dirichlet ? schema?.questionStarts : nil, tree: constrainedTree,
                                    frozenConvolutions: state.options.freezeConvolutions ?? false, optimizer: state.options.optimizer ?? .sgd)
        try network.setWeights(weights)
        deviceData = try DeviceDataset(context, images: data.images, side: GalaxyDataset.imageSide, targets: data.targets, targetWidth: k,
                                       budget: deviceMemory, batch: batch)
        trainFeeder = try BatchFeeder(data: deviceData, maxBatch: batch, label: "train")
        evalFeeder = try BatchFeeder(data: deviceData, maxBatch: batch, label: "eval")
        if resume { try restore(optimizerState, k: k) }
        // Only now, with everything on the device: a run that cannot start leaves no directory behind.
        try FileManager.default.createDirectory(at: runDir, withIntermediateDirectories: true)
        if rank == 0 { tensorBoard = try openTensorBoard(resume: resume) }
    }

    public var options: TrainOptions { state.options }

    /// A line saying that the images stream, and through what (nil when they are resident).
    public var residencyNote: String? {
        guard case .streamed(let slotImages) = deviceData.residency else { return nil }
        return "data: \(ByteSize.describe(data.images.count)) of images do not fit the device memory given to them: they stream "
            + "through 2 slots of \(slotImages) images (\(ByteSize.describe(deviceData.imageDeviceBytes / 2)) each)"
    }

    /// Each column's training targets summed (a column of zeros cannot have a dead output: 0 is its answer).
    lazy var trainingTargetSums: [Double] = {
        let k = data.columns.count
        var sums = [Double](repeating: 0, count: k)
        for row in train { for j in 0..<k { sums[j] += Double(data.targets[row * k + j]) } }
        return sums
    }()

    /// The watch for a model that has stopped learning, with this run's settings.
    var monitor: LearningMonitor {
        LearningMonitor(columns: data.columns, tree: tree, outputMode: options.outputMode, learningRate: state.learningRate,
                        meanOutputBias: options.meanOutputBias, baseline: constantMeanBaseline())
    }

    /// The train and test score of a loss summed over `rows` galaxies: the RMSE over their k columns, or a
    /// Dirichlet run's mean NLL per galaxy.
    func score(lossSum: Double, rows: Int) -> Double {
        isDirichlet ? lossSum / Double(max(rows, 1)) : (lossSum / Double(rows * data.columns.count)).squareRoot()
    }

    /// What the scores are called in lines and messages.
    public var scoreName: String { isDirichlet ? "NLL" : "RMSE" }

    /// The test score of the baseline that ignores the image: RMSE of the training targets' column means, or a
    /// Dirichlet run's mean NLL of constant concentrations fitted to the training counts.
    public func constantMeanBaseline() -> Double {
        if isDirichlet, let schema {
            let alpha = CountStatistics.constantConcentrations(counts: data.targets, width: data.columns.count, rows: train,
                                                               questionStarts: schema.questionStarts)
            return CountStatistics.meanNLL(counts: data.targets, width: data.columns.count, rows: test, questionStarts: schema.questionStarts) { _ in alpha }
        }
        let k = data.columns.count
        let means = Metrics.columnMeans(data.targets, width: k, rows: train)
        let testTargets = Metrics.rows(data.targets, width: k, test)
        return Metrics.rmse((0..<test.count).flatMap { _ in means }, testTargets)
    }

    /// The training order of an epoch (1-based).
    func order(epoch: Int) -> [Int] {
        guard options.shuffle else { return train }
        var rng = SplitMix64(seed: UInt64(options.augmentSeed) << 32 | UInt64(epoch))
        return train.shuffled(using: &rng)
    }

    /// Trains until the last epoch or until `shouldStop` is true after a step (then the resumable state is
    /// written and the outcome is `.interrupted`). Inside an epoch the resumable state is also written every
    /// `checkpointInterval`. A failure of the device becomes `TrainingError.deviceFailed`, saying what is saved.
    public func run(shouldStop: () -> Bool = { false }) throws -> TrainOutcome {
        do {
            return try runEpochs(shouldStop: shouldStop)
        } catch let error as VulkanError {
            guard let failure = error.deviceFailure else { throw error }
            throw TrainingError.deviceFailed(failure, what: "the device failed while training: \(error.description)", saved: savedStateDescription)
        }
    }

    /// What a failed run leaves to continue from, and the command that does.
    var savedStateDescription: String {
        guard let at = savedAt else {
            return "No state had been saved yet (none is written before the first epoch ends or the first --checkpoint-every interval); "
                + "nothing in \(runDir.path) was changed by this run"
        }
        return "The state saved \(at) is intact (\(directory.file(Self.lastState).path)); "
            + "resume with: galaxy train --resume \(runDir.path)"
    }

    /// Whether the periodic resumable state is due.
    func checkpointDue() -> Bool {
        guard let checkpointInterval else { return false }
        return Date().timeIntervalSince(lastSave) >= checkpointInterval
    }

    /// The seed's loop: each epoch trains its steps, evaluates the test set, steps the scheduler, saves the
    /// checkpoints and reports, and watches for a model that stopped learning.
    func runEpochs(shouldStop: () -> Bool) throws -> TrainOutcome {
        lastSave = Date()
        while state.epoch < options.epochs {
            let epoch = state.epoch + 1
            guard let pass = try trainSteps(epoch: epoch, shouldStop: shouldStop) else { return .interrupted }
            let evaluation = try evaluateAcrossRanks(rows: test)
            let row = epochMetrics(epoch, pass, evaluation)
            if options.plateau {
                state.learningRate = state.scheduler.step(metric: evaluation.total, lr: state.learningRate)
            }
            let improved = try endEpoch(row)
            log(epochLine(row, improved: improved))
            var watch = monitor
            watch.learningRate = row.learningRate
            for warning in watch.epochWarnings(metrics: state.metrics, dead: pass.dead(evaluation)) { warn(warning) }
            if stopWhenDead && row.deadOutputs == data.columns.count {
                log("stopped after epoch \(epoch): every output is dead (--stop-when-dead); the best checkpoint is "
                    + "\(directory.file(Self.bestWeights).path); \(watch.advice)")
                return .dead
            }
            if try stopRequested(shouldStop()) && state.epoch < options.epochs {
                log("interrupted after epoch \(epoch): resumable state written to \(directory.file(Self.lastState).path)")
                return .interrupted
            }
        }
        return .finished
    }

    /// What an epoch's training steps leave for its metrics.
    struct EpochPass {
        /// The training loss summed over the epoch (all ranks).
        var loss: Float
        var started: Date
        /// Seconds of training steps, those before a resume included.
        var trainSeconds: Double
        /// The step the epoch started from (0, or where a resumed run stopped).
        var firstStep: Int
        var trainingTargetSums: [Double]

        func dead(_ evaluation: TestEvaluation) -> [Int] {
            LearningMonitor.deadColumns(outputSums: evaluation.columnOutputSums, trainingTargetSums: trainingTargetSums)
        }
    }

    /// The steps of the epoch chosen by `steps(epoch:)`, from `state.step`. At each step boundary where the
    /// run is asked to stop or the periodic state is due, every process agrees and the resumable state is
    /// written; nil when the run stopped there.
    func trainSteps(epoch: Int, shouldStop: () -> Bool) throws -> EpochPass? {
        let batch = options.batch
        let steps = (train.count + batch - 1) / batch
        let order = order(epoch: epoch)
        let runner = self.steps(epoch: epoch)
        let firstStep = state.step
        // The rows of each step left; their sequences are recorded before the epoch's clock starts: creating
        // the pipelines is the process's start-up, not the epoch's host time (metrics.csv's host_share).
        let batches = (firstStep..<steps).map { Array(order[($0 * batch)..<min(train.count, ($0 + 1) * batch)]) }
        try runner.prepare(batches)
        try trainFeeder.begin(batches.map { Array($0[runner.shard(of: $0)]) })
        // A resumed epoch's loss so far is counted once: by rank 0.
        try network.loss.upload([Float(bitPattern: state.step == 0 || rank != 0 ? 0 : state.partialLossBits)])
        exchangeSeconds = 0
        let started = Date()
        stepSeconds = state.partialStepSeconds ?? 0
        var watch = ZeroOutputWatch(trainer: self, epoch: epoch, batches: batches, firstStep: firstStep)
        progress?.reset(label: "epoch \(epoch)/\(options.epochs)", total: train.count, done: min(firstStep * batch, train.count))
        var lastLoss: Float = 0
        for step in firstStep..<steps {
            let more = step + 1 < steps
            // Stop and save, or save and go on, at this step boundary: every process at the same step.
            let (stopNow, saveNow) = try runner.step(step - firstStep, rows: batches[step - firstStep]) {
                (more && shouldStop(), more && checkpointDue())
            }
            let done = min(train.count, (step + 1) * batch)
            if (step + 1) % readbackEvery == 0 || step + 1 == steps {
                try drain()
                lastLoss = try trainLossSoFar()
                guard lastLoss.isFinite else { throw TrainingError.nonFinite(epoch: epoch, step: step + 1, checkpoint: lastCheckpointDescription) }
                let running = score(lossSum: Double(lastLoss), rows: done)
                if !isDirichlet { watch.check(step: step, loss: lastLoss) }
                progress?.update(done: done, extra: String(format: "train \(scoreName) %.4f", running))
                try tensorBoard?.append(step: imagesSeen(epoch: epoch - 1, plus: done),
                                        scalars: [(isDirichlet ? MetricsTable.nllRunningTrainTag : MetricsTable.runningTrainTag, Float(running))])
            } else {
                progress?.update(done: done)
            }
            if stopNow || saveNow {
                let midEpoch = try saveMidEpoch(step: step + 1, epoch: epoch, started: started)
                if stopNow {
                    state = midEpoch
                    progress?.finish(extra: "interrupted")
                    log("interrupted at epoch \(epoch), step \(step + 1) of \(steps): resumable state written to \(directory.file(Self.lastState).path)")
                    return nil
                }
            }
        }
        progress?.finish()
        return EpochPass(loss: lastLoss, started: started, trainSeconds: Date().timeIntervalSince(started) + state.partialSeconds,
                         firstStep: firstStep, trainingTargetSums: trainingTargetSums)
    }

    /// The epoch's steps in this process's form: alone, or as one rank of `world`.
    func steps(epoch: Int) -> TrainingSteps {
        let mode: AugmentMode = options.augment ? .random(seed: options.augmentSeed, epoch: UInt32(epoch)) : .none
        guard let world else { return SingleProcessSteps(self, mode: mode) }
        return DistributedSteps(self, world: world, mode: mode)
    }

    /// Writes the resumable state at `step` of `epoch` (a step boundary), as a run resumed there needs it, and
    /// returns it; the epoch goes on from its own numbers when it only saves.
    func saveMidEpoch(step: Int, epoch: Int, started: Date) throws -> TrainingState {
        try drain()
        let loss: Float = try trainLossSoFar()
        guard loss.isFinite else { throw TrainingError.nonFinite(epoch: epoch, step: step, checkpoint: lastCheckpointDescription) }
        var midEpoch = state
        midEpoch.step = step
        midEpoch.partialLossBits = loss.bitPattern
        midEpoch.partialSeconds += Date().timeIntervalSince(started)
        midEpoch.partialStepSeconds = stepSeconds
        try saveLast(state: midEpoch)
        return midEpoch
    }

    /// Inside an epoch, at the loss read-backs: every output answering 0 shows as a loss that grew by exactly
    /// the targets' squares since the last read-back. Warned once an epoch, and not while the last epoch
    /// found every output dead.
    struct ZeroOutputWatch {
        unowned let trainer: Trainer
        let epoch: Int
        let firstStep: Int
        /// The targets' squares summed, per step left.
        let targetSquares: [Double]
        var lastRead: (step: Int, loss: Double)
        var warned: Bool

        init(trainer: Trainer, epoch: Int, batches: [[Int]], firstStep: Int) {
            let (k, targets, state) = (trainer.data.columns.count, trainer.data.targets, trainer.state)
            (self.trainer, self.epoch, self.firstStep) = (trainer, epoch, firstStep)
            targetSquares = batches.map { rows in rows.reduce(0.0) { sum, row in
                targets[(row * k)..<((row + 1) * k)].reduce(sum) { $0 + Double($1) * Double($1) } } }
            lastRead = (firstStep, Double(Float(bitPattern: state.step == 0 ? 0 : state.partialLossBits)))
            warned = state.metrics.last.map { $0.deadOutputs == k } ?? false
        }

        /// `loss`: the epoch's training loss after `step` (0-based).
        mutating func check(step: Int, loss: Float) {
            let squares = targetSquares[(lastRead.step - firstStep)...(step - firstStep)].reduce(0, +)
            if !warned && LearningMonitor.everyOutputAnsweredZero(lossGrowth: Double(loss) - lastRead.loss, targetSquares: squares) {
                warned = true
                trainer.warn("warning: epoch \(epoch): every output answered 0 on steps \(lastRead.step + 1)-\(step + 1) (the loss grew by exactly "
                             + "the targets' squares): the outputs may have died; \(trainer.monitor.advice)")
            }
            lastRead = (step + 1, Double(loss))
        }
    }

    /// The epoch's row of metrics.csv, with the learning rate it trained at (before the scheduler's step).
    func epochMetrics(_ epoch: Int, _ pass: EpochPass, _ evaluation: TestEvaluation) -> EpochMetrics {
        let k = data.columns.count
        let seconds = Date().timeIntervalSince(pass.started) + state.partialSeconds
        _ = k
        return EpochMetrics(epoch: epoch, trainRMSE: score(lossSum: Double(pass.loss), rows: train.count),
                            testRMSE: score(lossSum: evaluation.total, rows: test.count), learningRate: state.learningRate, seconds: seconds,
                            imagesPerSecond: Double(train.count - pass.firstStep * options.batch) / max(pass.trainSeconds - state.partialSeconds, 1e-9),
                            stepSeconds: stepSeconds, deadOutputs: pass.dead(evaluation).count,
                            testRMSEByQuestion: isDirichlet ? nil : MetricsTable.questionRMSE(columnSSE: evaluation.columnSquaredErrors, rows: test.count,
                                                                                               tree: tree),
                            measure: isDirichlet ? EpochMetrics.nll : nil)
    }

    /// Ends the epoch: the state moves to its end, and the run directory gets the best checkpoint (when the
    /// test RMSE improved), the resumable state, metrics.csv, the plot and the TensorBoard scalars.
    /// Returns whether the test RMSE improved.
    func endEpoch(_ row: EpochMetrics) throws -> Bool {
        state.metrics.append(row)
        state.epoch = row.epoch
        state.step = 0
        state.partialLossBits = 0
        state.partialSeconds = 0
        state.partialStepSeconds = nil
        let improved = state.bestTestRMSE.map { row.testRMSE < $0 } ?? true
        if improved { state.bestTestRMSE = row.testRMSE }
        let weights = try network.weights()
        if let world { try checkSameWeights(world, weights, epoch: row.epoch) }
        if rank == 0 && improved { try directory.writeBest(weights, metadata: checkpointMetadata()) }
        try saveLast(weights, state: state)
        if rank == 0 {
            try directory.writeReports(metrics: state.metrics)
            try tensorBoard?.append(step: imagesSeen(epoch: row.epoch), scalars: MetricsTable.scalars(row))
        }
        return improved
    }

    /// The epoch's log line.
    func epochLine(_ row: EpochMetrics, improved: Bool) -> String {
        let name = scoreName
        var line = String(format: "epoch %3d/%d  train \(name) %.5f  test \(name) %.5f  lr %.4g  %.1f s (steps %.1f s)  %.1f images/s",
                          row.epoch, options.epochs, row.trainRMSE, row.testRMSE, row.learningRate, row.seconds, row.stepSeconds ?? 0, row.imagesPerSecond)
        if let world { line += String(format: "  (%d ranks, gradient exchange %.1f s)", world.size, exchangeSeconds) }
        if state.learningRate != row.learningRate { line += String(format: "  (lr -> %.4g)", state.learningRate) }
        if improved { line += "  *best" }
        return line
    }

    /// Seconds since the epoch began during which the device had work launched and not yet waited for
    /// (the rest of the epoch is the host's alone).
    var stepSeconds: Double = 0
    /// Since when the device has had work, nil when it has none.
    private var busySince: Date?

    /// Runs step `i` of `feeder`'s pass (it may still run on return; the one before it has finished).
    func run(_ feeder: BatchFeeder, step i: Int, _ seq: CommandSequence) throws {
        markBusy()
        try feeder.run(step: i, seq)
    }

    /// Notes that the device has work from now (when it had none).
    func markBusy() {
        if busySince == nil { busySince = Date() }
    }

    /// Waits for every step launched.
    func drain() throws {
        try trainFeeder.finish()
        try evalFeeder.finish()
        if let busySince { stepSeconds += Date().timeIntervalSince(busySince) }
        busySince = nil
    }

    /// --mean-output-bias with the decision-tree layer: each question's f(bias) sums to this (see
    /// Reference.constrainedOutputBias). At lr 0 scales 1, 4 and 16 all started within 0.05% of the constant
    /// mean on 400 synthetic galaxies; at lr 0.1 over 3 epochs scale 1 moved below it first (0.1% lower, the
    /// others 0.0%): the smaller f, the larger softplus'/softplus and so the gradient through the layer.
    static let treeBiasScale = 1.0

    /// Sum of squared errors over `rows`, no augmentation, per output column, and each column's outputs
    /// summed: every batch adds its sums on the device (eval_sums, in batch order), which are read back once
    /// at the end, so the device runs the batches back to back.

    func evaluate(rows: [Int]) throws -> TestEvaluation {
        let batch = options.batch
        var sequences: [[Int]: CommandSequence] = [:]
        try network.evaluationSums.fill(0, count: 2 * data.columns.count)
        // A Dirichlet run's test loss, its NLL, adds up in loss slot 1 (slot 0 holds the epoch's training loss).
        if isDirichlet { try network.loss.upload([Float(0)], at: 1) }
        let batches = stride(from: 0, to: rows.count, by: batch).map { Array(rows[$0..<min(rows.count, $0 + batch)]) }
        try evalFeeder.begin(batches)
        for (i, b) in batches.map(\.count).enumerated() {
            let seq: CommandSequence
            if let s = sequences[[b, i % 2]] { seq = s } else {
                seq = try CommandSequence(context)
                try evalFeeder.recordBatch(seq, kernels: network.kernels, parity: i % 2, batch: b, mode: .none, input: network.input, target: network.target)
                try network.recordForward(seq, batch: b)
                try network.recordEvaluationSums(seq, batch: b)
                if isDirichlet { try network.recordLoss(seq, batch: b, slot: 1, accumulate: true) }
                sequences[[b, i % 2]] = seq
            }
            try run(evalFeeder, step: i, seq)
        }
        try drain()
        let sums = try network.evaluationSumsSoFar()
        let columns = sums.squaredErrors.map(Double.init)
        let total = isDirichlet ? Double(try network.loss.download(Float.self, count: 1, from: 1)[0]) : columns.reduce(0, +)
        guard total.isFinite else { throw TrainingError.nonFinite(epoch: state.epoch + 1, step: 0, checkpoint: lastCheckpointDescription) }
        return TestEvaluation(total: total, columnSquaredErrors: columns, columnOutputSums: sums.outputs.map(Double.init))
    }
}
