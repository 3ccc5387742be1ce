import Foundation

/// What a distributed run's ranks share (`DistributedSteps` runs the steps): the batch's shards, the
/// gradient exchange with the ranks' agreement on stopping and saving, the losses and the check that every
/// rank holds the same weights. Alone (`world` nil), each is this process's own value.
extension Trainer {
    /// The rows of a batch of `count` that rank `rank` of `ranks` computes: the batch cut into `ranks`
    /// contiguous shards in order, the first `count % ranks` one row larger (a shard may be empty).
    public static func shard(_ count: Int, rank: Int, ranks: Int) -> Range<Int> {
        let base = count / ranks, extra = count % ranks
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }

    /// Replaces this rank's gradients by their sum over the ranks (added in rank order, so every rank
    /// holds the same bits); a rank without rows in this batch adds zeros. Also agrees on stopping:
    /// true when any rank asked to stop.
    /// The same for writing the resumable state (rank 0's clock decides).
    func exchangeGradients(_ world: MPIWorld, haveShard: Bool, stop: Bool, checkpoint: Bool) throws -> (stop: Bool, checkpoint: Bool) {
        let t0 = Date()
        let n = network.parameterCount
        var mine = haveShard ? try network.grads!.download(count: n) : [Float](repeating: 0, count: n)
        mine += [stop ? 1 : 0, checkpoint ? 1 : 0]
        let total = try world.sum(mine)
        try network.grads!.upload(Array(total[0..<n]))
        exchangeSeconds += Date().timeIntervalSince(t0)
        return (total[n] > 0, total[n + 1] > 0)
    }

    /// The training loss of the epoch so far (summed over the ranks in a distributed run).
    func trainLossSoFar() throws -> Float {
        let local: Float = try network.loss.download(count: 1)[0]
        guard let world else { return local }
        return try world.sum([local])[0]
    }

    /// Test loss, in total and per column: each rank evaluates its contiguous shard of `rows`, the sums are added in rank order.
    func evaluateAcrossRanks(rows: [Int]) throws -> TestEvaluation {
        guard let world else { return try evaluate(rows: rows) }
        let k = data.columns.count
        let mine = Self.shard(rows.count, rank: world.rank, ranks: world.size)
        let local = mine.isEmpty ? TestEvaluation(total: 0, columnSquaredErrors: [Double](repeating: 0, count: k), columnOutputSums: [Double](repeating: 0, count: k))
            : try evaluate(rows: Array(rows[mine]))
        let sums = try world.sum([local.total] + local.columnSquaredErrors + local.columnOutputSums)
        return TestEvaluation(total: sums[0], columnSquaredErrors: Array(sums[1...k]), columnOutputSums: Array(sums[(k + 1)...]))
    }

    /// Between epochs: true on every rank when any rank was asked to stop.
    func stopRequested(_ local: Bool) throws -> Bool {
        guard let world else { return local }
        return try world.sum([local ? 1.0 : 0.0])[0] > 0
    }

    /// Stops the run when the ranks' weights differ (they must be bit-identical after every step).
    func checkSameWeights(_ world: MPIWorld, _ weights: ModelWeights, epoch: Int) throws {
        let bytes = try SafeTensors.serialize(weights.names.map { ($0, weights.tensors[$0]!) }, metadata: [:])
        // 48 bits of the digest: exact in a double.
        let mine = UInt64(Self.digest(bytes), radix: 16)! >> 16
        let all = try world.allGather([Double(mine)]).map { UInt64($0[0]) }
        guard Set(all).count == 1 else {
            throw DistributedError.diverged(epoch: epoch, digests: all.map { String($0, radix: 16) })
        }
    }
}
