import Foundation

extension Trainer {
    /// The x axis of the run's TensorBoard curves: training images seen, `epoch` whole epochs plus `plus`.
    /// Runs of different batch sizes line up on it, and it does not depend on the number of ranks.
    func imagesSeen(epoch: Int, plus: Int = 0) -> Int64 { Int64(epoch) * Int64(train.count) + Int64(plus) }

    /// A new run's event file, or a resumed run's, cut back to its checkpoint and holding every epoch
    /// of the checkpoint's state (TensorBoardLog.resume).
    func openTensorBoard(resume: Bool) throws -> TensorBoardLog {
        guard resume else { return try TensorBoardLog.create(in: runDir) }
        let position = imagesSeen(epoch: state.epoch, plus: min(state.step * options.batch, train.count))
        return try TensorBoardLog.resume(in: runDir, position: position, required: state.metrics.map { (imagesSeen(epoch: $0.epoch), MetricsTable.scalars($0)) },
                                         key: isDirichlet ? MetricsTable.nllEpochKeyTag : MetricsTable.epochKeyTag)
    }
}
