import Foundation

/// The training steps of one epoch: the same calls whether this process trains alone (`SingleProcessSteps`)
/// or as one rank of several (`DistributedSteps`). `Trainer.steps(epoch:)` picks the form.
protocol TrainingSteps: AnyObject {
    /// The part of a batch's rows this process computes: all of them alone, a rank's contiguous shard.
    func shard(of rows: [Int]) -> Range<Int>
    /// Records the sequences of the epoch's steps ahead (`batches`: the rows of each step left), so that
    /// creating pipelines is not counted in the epoch's time.
    func prepare(_ batches: [[Int]]) throws
    /// Launches step `i` of the steps left on `rows` (the whole batch). `wishes` gives this process's wish to
    /// stop or to save the resumable state at the step's end; the result is what every process agreed.
    func step(_ i: Int, rows: [Int], wishes: () -> (stop: Bool, save: Bool)) throws -> (stop: Bool, save: Bool)
}

/// The recorded step sequences of an epoch, one per (rows computed, batch size, index buffer): the rows'
/// forward and backward pass with the loss and gradient of the whole batch's mean, plus the optimizer's `update` when given.
/// One sequence per index buffer (`parity`), so that one can be written while the other runs.
final class StepSequences {
    private unowned let trainer: Trainer
    private let mode: AugmentMode
    private let update: (lr: Float, momentum: Float)?
    private var recorded: [[Int]: CommandSequence] = [:]

    init(_ trainer: Trainer, mode: AugmentMode, update: (lr: Float, momentum: Float)?) {
        (self.trainer, self.mode, self.update) = (trainer, mode, update)
    }

    func sequence(_ rows: Int, of total: Int, parity: Int) throws -> CommandSequence {
        if let s = recorded[[rows, total, parity]] { return s }
        let network = trainer.network
        let seq = try CommandSequence(trainer.context)
        try trainer.trainFeeder.recordBatch(seq, kernels: network.kernels, parity: parity, batch: rows, mode: mode, input: network.input, target: network.target)
        try network.recordTrainingStep(seq, batch: rows, lossBatch: total, update: update)
        recorded[[rows, total, parity]] = seq
        return seq
    }
}

/// A process training alone: each step's sequence ends with the optimizer's step, and step i runs while the host
/// writes step i + 1's indices (and brings in the next chunk of a stream).
final class SingleProcessSteps: TrainingSteps {
    private unowned let trainer: Trainer
    private let sequences: StepSequences

    init(_ trainer: Trainer, mode: AugmentMode) {
        self.trainer = trainer
        sequences = StepSequences(trainer, mode: mode, update: (trainer.state.learningRate, trainer.options.momentum))
    }

    func shard(of rows: [Int]) -> Range<Int> { rows.indices }

    func prepare(_ batches: [[Int]]) throws {
        for (i, rows) in batches.enumerated() { _ = try sequences.sequence(rows.count, of: rows.count, parity: i % 2) }
    }

    func step(_ i: Int, rows: [Int], wishes: () -> (stop: Bool, save: Bool)) throws -> (stop: Bool, save: Bool) {
        try trainer.run(trainer.trainFeeder, step: i, sequences.sequence(rows.count, of: rows.count, parity: i % 2))
        return wishes()
    }
}

/// One rank of several: each rank computes the gradient of its shard of the batch, the gradients are summed
/// over the ranks (`Trainer.exchangeGradients`, which also carries the ranks' wishes: any rank's stop, rank 0's
/// clock for saving), and every rank then applies the same optimizer step.
final class DistributedSteps: TrainingSteps {
    private unowned let trainer: Trainer
    private let world: MPIWorld
    private let sequences: StepSequences
    private var updateSequence: CommandSequence?

    init(_ trainer: Trainer, world: MPIWorld, mode: AugmentMode) {
        (self.trainer, self.world) = (trainer, world)
        sequences = StepSequences(trainer, mode: mode, update: nil)
    }

    func shard(of rows: [Int]) -> Range<Int> { Trainer.shard(rows.count, rank: world.rank, ranks: world.size) }

    private func update() throws -> CommandSequence {
        if let updateSequence { return updateSequence }
        let seq = try CommandSequence(trainer.context)
        try trainer.network.recordUpdate(seq, lr: trainer.state.learningRate, momentum: trainer.options.momentum)
        updateSequence = seq
        return seq
    }

    func prepare(_ batches: [[Int]]) throws {
        for (i, rows) in batches.enumerated() {
            let mine = shard(of: rows)
            if !mine.isEmpty { _ = try sequences.sequence(mine.count, of: rows.count, parity: i % 2) }
        }
        _ = try update()
    }

    func step(_ i: Int, rows: [Int], wishes: () -> (stop: Bool, save: Bool)) throws -> (stop: Bool, save: Bool) {
        let mine = shard(of: rows)
        if !mine.isEmpty {
            try trainer.run(trainer.trainFeeder, step: i, sequences.sequence(mine.count, of: rows.count, parity: i % 2))
            try trainer.drain()
        }
        let wish = wishes()
        let agreed = try trainer.exchangeGradients(world, haveShard: !mine.isEmpty, stop: wish.stop, checkpoint: world.rank == 0 && wish.save)
        trainer.markBusy()
        try update().submit()
        try trainer.drain()
        return (agreed.stop, agreed.checkpoint)
    }
}
