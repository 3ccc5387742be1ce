import ArgumentParser
import Foundation
import GalaxyKit

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train SanderDielemanNet on a Galaxy Zoo data set (defaults: the seed's recipe).",
        discussion: """
        Writes RUN/last.safetensors and RUN/best.safetensors (PyTorch state_dict names), RUN/last.state.safetensors \
        (the optimizer's state, SGD's momentum or Adam's moments, and the training state for --resume), RUN/metrics.csv and RUN/loss.svg after every epoch. \
        One process trains in a run directory at a time (RUN/train.lock); a directory that holds a run is \
        never overwritten unless --overwrite is given. Ctrl-C (exit 130), SIGTERM and SIGUSR1 (exit 75: a \
        scheduler's preemption) stop after the current step with the resumable state written; a second signal \
        exits at once. The resumable state is also written every --checkpoint-every inside an epoch. A lost or \
        full device, or one that stops answering (a wait past its limit, GALAXY_WAIT_TIMEOUT), exits with 69 \
        and says which saved state to resume from. \
        Under mpirun (`mpirun -np N galaxy train ...`) N ranks train together: rank r takes its host's \
        (local rank mod count)-th GPU unless --device is given, computes the gradient of the r-th contiguous \
        shard of every batch, the gradients are summed over the ranks, and rank 0 alone writes the run directory.
        """)

    @OptionGroup var dataOptions: DataOptions
    @Option(name: .customLong("run"), help: "Run directory for checkpoints and metrics.") var runPath = "runs/train"
    @Option(help: "Continue the run in this directory exactly where it stopped.") var resume: String?
    @Option(help: "Epochs (default 100; with --resume, a new total for the resumed run).") var epochs: Int?
    @Option(help: "Batch size.") var batch = 128
    @Option(help: "Optimizer (Adam: betas 0.9 and 0.999, eps 1e-8, no weight decay).") var optimizer: Optimizer = .sgd
    @Option(help: "Learning rate. (default: 0.1 for sgd, 0.001 for adam)") var lr: Float?
    @Option(help: "SGD momentum.") var momentum: Float = 0.9
    @Option(help: "Seed of the 80/20 train/test split (sklearn-compatible).") var seed: UInt32 = 42
    @Option(help: "Fraction of the data held out for testing.") var testFraction = 0.2
    @Option(help: "Seed of the augmentation and of --shuffle.") var augmentSeed: UInt32 = 42
    @Option(help: "Seed of the initial weights (PyTorch's default init scheme).") var initSeed: UInt64 = 1234
    @Flag(help: "Train without random flips and rotations.") var noAugment = false
    @Flag(help: "Shuffle the training order every epoch (the seed does not).") var shuffle = false
    @Flag(help: "Start the output layer's bias at the training targets' means (the constant-mean predictor) instead of PyTorch's init.") var meanOutputBias = false
    @Option(help: "Start the output layer's bias at this value instead of PyTorch's init (Dieleman's model: 0.1).") var outputBias: Float?
    @Flag(help: "Do not step ReduceLROnPlateau on the test loss.") var noPlateau = false
    @Option(help: "ReduceLROnPlateau patience in epochs.") var plateauPatience = 10
    @Option(help: "ReduceLROnPlateau factor.") var plateauFactor: Float = 0.1
    @Option(help: "Output layer (constrained and constrained-relu need the columns' decision tree, --schema or a built-in one).") var output: OutputMode = .relu
    @Option(help: "Loss: mse (the seed's, on vote fractions) or dirichlet (the Dirichlet-multinomial likelihood of vote counts; the default when the CSV holds counts, docs/guide-counts.md).")
    var loss: String?
    @Option(help: "The decision tree of the CSV's columns: kaggle, decals-dr5, decals-dr8 or a JSON file (docs/guide-counts.md). Default: the built-in tree whose columns the CSV has, for --loss dirichlet; none for mse.")
    var schema: String?
    @Option(help: "Start from these weights (safetensors with PyTorch state_dict names). From a checkpoint with another output count, schema or loss: its convolutions under a new dense head.") var initWeights: String?
    @Option(help: "convolutions: train only the dense layers (the convolutions' gradients are not computed).") var freeze: String?
    @Option(help: "Vulkan device index or name substring (see `galaxy devices`).") var device: String?
    @Flag(help: "Stop at the end of an epoch in which every output died (answered 0 for every test image), keeping the best checkpoint (exit 3). Without it, galaxy only warns.")
    var stopWhenDead = false
    @Flag(help: "Start a new run in a --run directory that holds one, removing that run's files (it says which).") var overwrite = false
    @Option(help: "Write the resumable state inside an epoch at this wall-clock interval (e.g. 15m, 30s, 1h; 0: after every step; off: only at epoch ends).")
    var checkpointEvery = "15m"
    @Option(help: "Device memory for the data set's images, e.g. 2G (default: GALAXY_DEVICE_MEMORY, else half the largest device-local heap); larger data sets stream through it.") var deviceMemory: String?

    func run() throws {
        try reportingErrors {
            var options = TrainOptions()
            options.epochs = epochs ?? 100
            options.batch = batch
            options.learningRate = lr ?? optimizer.defaultLearningRate
            options.optimizer = optimizer
            options.momentum = momentum
            options.splitSeed = seed
            options.testFraction = testFraction
            options.augmentSeed = augmentSeed
            options.initSeed = initSeed
            options.augment = !noAugment
            options.shuffle = shuffle
            options.plateau = !noPlateau
            options.plateauPatience = plateauPatience
            options.plateauFactor = plateauFactor
            options.outputMode = output
            options.meanOutputBias = meanOutputBias
            options.outputBias = outputBias
            if meanOutputBias && outputBias != nil { throw ValidationError("--mean-output-bias and --output-bias exclude each other") }
            guard (0...1).contains(testFraction), testFraction > 0, testFraction < 1 else { throw ValidationError("--test-fraction must be in (0, 1)") }
            let deviceMemory = try ByteSize.deviceMemory(deviceMemory)
            let checkpointInterval: TimeInterval?
            if ["off", "never", "none"].contains(checkpointEvery.lowercased()) { checkpointInterval = nil } else {
                guard let seconds = Interval.parse(checkpointEvery) else {
                    throw ValidationError("--checkpoint-every \(checkpointEvery): expected an interval such as 15m, 30s, 1h, 0 or off")
                }
                checkpointInterval = seconds
            }
            if overwrite && resume != nil { throw ValidationError("--overwrite starts a new run: it cannot go with --resume") }
            // Signals from now on stop the run at a step boundary (before training starts: at once, nothing written).
            Interrupt.install()
            // A resumed run finds its data in RUN/data.json unless told otherwise.
            let source: DataSource
            if let resume, !dataOptions.isGiven {
                source = try RunData.load(runDir: URL(fileURLWithPath: resume))
            } else {
                source = try dataOptions.source()
            }
            let world = try MPIWorld.join()
            let lead = (world?.rank ?? 0) == 0
            // Rank 0 owns the run directory for its whole life: a second process on it stops here.
            let runDir = URL(fileURLWithPath: resume ?? runPath)
            let directory = lead ? try RunDirectory.claim(runDir, for: resume != nil ? .resume : overwrite ? .overwrite : .new)
                                 : RunDirectory(unlocked: runDir)
            let data: GalaxyDataset, trainer: Trainer
            do {
                // Rank 0 prepares the cache if needed while the others wait, then they read it.
                if let world, !lead { try world.barrier() }
                data = try Self.prepareLabels(dataOptions.load(source), csv: source.csv.path, options: &options, loss: loss, schema: schema,
                                              output: output, resume: resume)
                if let world, lead { try world.barrier() }
                let context = try openDevice(device, world: world)
                if !lead { VulkanContext.notice = nil }  // rank 0 says it for all
                if let freeze {
                    guard freeze == "convolutions" else { throw ValidationError("--freeze \(freeze): expected convolutions") }
                    options.freezeConvolutions = true
                }
                var newHead = false
                let initial = try initWeights.map { path -> ModelWeights in
                    let (w, meta) = try ModelWeights.load(URL(fileURLWithPath: path))
                    let sameHead = w.outputs == data.columns.count && (try? OutputMode(metadata: meta, file: path)) == options.outputMode
                        && meta[AnswerSchema.metadataKey].map { $0 == options.schema } ?? true
                    if sameHead { return w }
                    if lead {
                        print("--init-weights: the convolutions of \(path) (\(w.outputs) outputs, output \(meta["output"] ?? "relu")) under a new dense head "
                              + "(fc1, fc2, fc3: \(data.columns.count) outputs, \(options.outputMode.argument))")
                    }
                    newHead = true
                    return w.withNewHead(outputs: data.columns.count, seed: options.initSeed)
                }
                trainer = try Trainer(context: context, data: data, runDir: runDir, options: options, initWeights: initial, resume: resume != nil,
                                      resumeEpochs: resume != nil ? epochs : nil, world: world, deviceMemory: deviceMemory, directory: directory,
                                      newHead: newHead)
            } catch {
                // A run that cannot start leaves the directory as it found it (and none when there was none).
                directory.abandon()
                throw error
            }
            // --overwrite: the old run goes only now that the new one has started.
            if overwrite && lead {
                let removed = try directory.discardRun()
                if !removed.isEmpty { print("--overwrite: removed \(removed.joined(separator: ", ")) from \(runDir.path)") }
            }
            trainer.checkpointInterval = checkpointInterval
            trainer.stopWhenDead = stopWhenDead
            guard lead else {
                // The other ranks train in step with rank 0 and say nothing unless something fails.
                trainer.log = { _ in }
                switch try trainer.run(shouldStop: { Interrupt.requested != 0 }) {
                case .finished: return
                case .interrupted: throw ExitCode(Interrupt.exitCode)
                case .dead: throw ExitCode(ExitStatus.modelDead)
                }
            }
            try directory.writeDataRecord(source)
            trainer.progress = ProgressReporter(label: "train", total: 0)
            trainer.log = { print($0); fflush(stdout) }
            if let world { print("distributed: \(world.size) ranks, batch \(trainer.options.batch) split into \(world.size) shards per step") }
            let o = trainer.options
            print("data: \(data.count) galaxies, \(data.columns.count) target column(s); train \(trainer.train.count), test \(trainer.test.count)")
            if let note = trainer.residencyNote { print(note) }
            print(String(format: "%@ baseline test %@ %.5f", trainer.isDirichlet ? "constant-concentration" : "constant-mean", trainer.scoreName,
                         trainer.constantMeanBaseline()))
            if let s = trainer.schema { print("schema: \(s.name) (\(s.questions.count) questions, \(s.answerCount) answers)" + (trainer.isDirichlet ? ", loss dirichlet (vote counts)" : "")) }
            print("recipe: \(o.epochs) epochs, batch \(o.batch), \((o.optimizer ?? .sgd) == .adam ? "Adam lr \(o.learningRate)" : "SGD lr \(o.learningRate) momentum \(o.momentum)"), "
                  + "augmentation \(o.augment ? "on" : "off"), plateau \(o.plateau ? "on" : "off"), output \(o.outputMode.argument)"
                  + (resume != nil ? ", resuming after epoch \(trainer.state.epoch) step \(trainer.state.step)" : ""))
            print("resumable state: every epoch" + (checkpointInterval.map { ", and inside an epoch \(Interval.insideAnEpoch($0))" } ?? "")
                  + " (--checkpoint-every)")
            if world == nil && Interrupt.requested != 0 {
                print("stopped by a signal before training started: nothing was written")
                if resume == nil { directory.abandon() }
                throw ExitCode(Interrupt.exitCode)
            }
            let outcome = try trainer.run { Interrupt.requested != 0 }
            if let best = trainer.state.bestTestRMSE {
                let baseline = trainer.constantMeanBaseline()
                print(String(format: "best test %@ %.5f, %@ baseline %.5f (%.1f%% %@)", trainer.scoreName, best,
                             trainer.isDirichlet ? "constant-concentration" : "constant-mean", baseline,
                             abs(100 * (1 - best / baseline)), best < baseline ? "lower" : "higher"))
            }
            print("metrics: \(runDir.appendingPathComponent("metrics.csv").path)")
            print("loss plot: \(runDir.appendingPathComponent("loss.svg").path)")
            print("checkpoints: \(runDir.appendingPathComponent(Trainer.bestWeights).path) (best test \(trainer.scoreName)"
                  + (trainer.state.bestTestRMSE.map { String(format: " %.5f", $0) } ?? "") + "), \(runDir.appendingPathComponent(Trainer.lastWeights).path)")
            print("report: galaxy report \(runDir.path)")
            switch outcome {
            case .finished: break
            case .interrupted:
                print("resume with: galaxy train --resume \(runDir.path)")
                throw ExitCode(Interrupt.exitCode)
            case .dead:
                throw ExitCode(ExitStatus.modelDead)
            }
        }
    }

    /// The labels as the run trains on them: the loss (--loss, else dirichlet for counts and mse for fractions), the
    /// schema (--schema, else the resumed run's, else the built-in tree the columns are, for dirichlet), the columns
    /// in the schema's order. Sets the options' output mode and schema.
    static func prepareLabels(_ data: GalaxyDataset, csv: String, options: inout TrainOptions, loss: String?, schema: String?,
                              output: OutputMode, resume: String?) throws -> GalaxyDataset {
        let kind = LabelKind.of(data.targets)
        var chosen = try schema.map { try AnswerSchema.resolve($0) }
        if chosen == nil, let resume {
            let file = URL(fileURLWithPath: resume).appendingPathComponent(Trainer.lastWeights)
            if let meta = try? SafeTensors.read(file).metadata { chosen = try AnswerSchema(metadata: meta, file: file.path) }
        }
        let lossName = loss ?? (kind == .counts ? "dirichlet" : "mse")
        switch lossName {
        case "mse":
            if kind == .counts {
                throw ValidationError("\(csv) holds vote counts (whole numbers above 1): --loss mse fits vote fractions; use --loss dirichlet (the default for counts)")
            }
        case "dirichlet":
            guard kind == .counts else {
                throw ValidationError("--loss dirichlet fits vote counts, and \(csv) holds vote fractions (no whole number above 1): use --loss mse")
            }
            guard output == .relu else { throw ValidationError("--output is the mse loss's output layer: --loss dirichlet has its own (concentrations)") }
            if chosen == nil { chosen = AnswerSchema.detect(columns: data.columns) }
            guard chosen != nil else {
                throw ValidationError("--loss dirichlet needs the decision tree of \(csv)'s columns: --schema kaggle, decals-dr5, decals-dr8 or a JSON file "
                                      + "(its columns are none of the built-in trees')")
            }
            options.outputMode = .dirichlet
        default:
            throw ValidationError("--loss \(lossName): expected mse or dirichlet")
        }
        if chosen == nil && output.constrainedForm != nil { chosen = AnswerSchema.detect(columns: data.columns) }
        if output.constrainedForm != nil && chosen == nil {
            throw ValidationError("--output \(output.argument) needs the decision tree of \(csv)'s columns: --schema kaggle, decals-dr5, decals-dr8 or a JSON file "
                                  + "(its columns are none of the built-in trees')")
        }
        guard let chosen else { return data }
        options.schema = chosen.json
        return try data.selecting(chosen, file: csv)
    }
}
