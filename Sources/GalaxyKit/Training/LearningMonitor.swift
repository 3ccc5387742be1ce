import Foundation

/// Watches a run for the signs that the model has stopped learning, and says what to change. The seed's
/// network ends in a ReLU: an output whose pre-activation a step pushes below zero for every image answers
/// 0 from then on and gets no gradient. It is dead, and the run would go on printing the same RMSE.
public struct LearningMonitor: Sendable {
    public var columns: [String]
    /// The columns' decision tree, if they have one.
    public var tree: AnswerSchema?
    public var outputMode: OutputMode
    public var learningRate: Float
    public var meanOutputBias: Bool
    /// The constant-mean predictor's test RMSE.
    public var baseline: Double

    /// Epochs over which an unchanged training loss means the model has stopped learning.
    public static let flatEpochs = 3
    /// Relative change of the training RMSE below which it counts as unchanged (its last digits).
    public static let flatTolerance = 1e-6
    /// Relative tolerance of "the loss grew by exactly the targets' squares" (every output 0): far above the
    /// float32 rounding of the accumulated loss (~1e-7 of it per step), far below what a live output changes.
    public static let zeroOutputTolerance = 1e-4

    /// `tree`: the columns' decision tree (default: the built-in one they are, if any), for which --output constrained exists.
    public init(columns: [String], tree: AnswerSchema? = nil, outputMode: OutputMode, learningRate: Float, meanOutputBias: Bool, baseline: Double) {
        self.columns = columns
        self.tree = AnswerSchema.implied(outputs: columns.count, columns: columns, recorded: tree)
        self.outputMode = outputMode
        self.learningRate = learningRate
        self.meanOutputBias = meanOutputBias
        self.baseline = baseline
    }

    /// What to change, for a run whose outputs die or that has stopped learning.
    public var advice: String {
        var ways = [String(format: "a lower --lr (this run: %g; try %g)", learningRate, learningRate / 10)]
        if !meanOutputBias && outputMode != .constrained {
            ways.append("--mean-output-bias (the outputs start at the training targets' means, all alive)")
        }
        if outputMode != .constrained && outputMode != .dirichlet, let tree {
            ways.append("--output constrained (the \(tree.name) tree's \(tree.answerCount) columns through softplus outputs, which cannot die)")
        }
        return "try " + ways.joined(separator: ", or ")
    }

    /// The columns whose outputs are 0 on every test image, from the sums of each column's outputs over
    /// the test set (outputs are never negative: a sum of 0 means every one is 0), among the columns whose
    /// training targets are not all 0 (for those, 0 is the right answer, not a dead output).
    public static func deadColumns(outputSums: [Double], trainingTargetSums: [Double]) -> [Int] {
        outputSums.indices.filter { outputSums[$0] == 0 && trainingTargetSums[$0] > 0 }
    }

    /// The warnings after an epoch: dead outputs, a training loss unchanged over the last epochs, a test
    /// RMSE worse than the constant-mean baseline that has stopped improving.
    public func epochWarnings(metrics: [EpochMetrics], dead: [Int]) -> [String] {
        guard let last = metrics.last else { return [] }
        var warnings: [String] = []
        if dead.count == columns.count {
            // Says it all: a flat loss and a test RMSE above the baseline follow from it.
            return ["warning: every output (all \(columns.count)) answered 0 for every test image after epoch \(last.epoch): "
                    + "the model is dead and cannot learn again (no gradient passes the final ReLU); \(advice)"]
        } else if !dead.isEmpty {
            let names = dead.prefix(8).map { columns[$0] }.joined(separator: ", ") + (dead.count > 8 ? ", ..." : "")
            warnings.append("warning: \(dead.count) of \(columns.count) outputs answered 0 for every test image after epoch \(last.epoch) "
                            + "(\(names)): they are dead and get no gradient; \(advice)")
        }
        let recent = metrics.suffix(Self.flatEpochs)
        if recent.count == Self.flatEpochs,
           recent.allSatisfy({ abs($0.trainRMSE - last.trainRMSE) <= Self.flatTolerance * max(last.trainRMSE, 1e-12) }) {
            warnings.append(String(format: "warning: the training loss has not changed over the last %d epochs (train RMSE %.6f): "
                                   + "the model has stopped learning; ", Self.flatEpochs, last.trainRMSE) + advice)
        }
        // A run still improving towards the baseline is learning (the seed's recipe starts slowly): only one
        // that is worse than the baseline and no better than its earlier epochs is warned about.
        if let previousBest = metrics.dropLast().map(\.testRMSE).min(), last.testRMSE > baseline, last.testRMSE >= previousBest {
            let nll = outputMode == .dirichlet
            warnings.append(String(format: nll ? "warning: test NLL %.5f after epoch %d is worse than the constant-concentration baseline %.5f "
                                   + "(fitted to the training counts) and no better than epoch %d's; "
                                   : "warning: test RMSE %.5f after epoch %d is worse than the constant-mean baseline %.5f "
                                   + "(predicting the training targets' means) and no better than epoch %d's; ",
                                   last.testRMSE, last.epoch, baseline, metrics.dropLast().min { $0.testRMSE < $1.testRMSE }!.epoch) + advice)
        }
        return warnings
    }

    /// Inside an epoch, from the read-back training loss: true when the loss grew by exactly the sum of the
    /// targets' squares of the rows trained since the last read-back, i.e. every output answered 0.
    public static func everyOutputAnsweredZero(lossGrowth: Double, targetSquares: Double) -> Bool {
        targetSquares > 0 && abs(lossGrowth - targetSquares) <= zeroOutputTolerance * targetSquares
    }
}
