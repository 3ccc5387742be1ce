import XCTest
@testable import GalaxyKit

/// The warnings of a run that has stopped learning, from the numbers an epoch ends with.
final class LearningMonitorTests: XCTestCase {
    func row(_ epoch: Int, train: Double, test: Double) -> EpochMetrics {
        EpochMetrics(epoch: epoch, trainRMSE: train, testRMSE: test, learningRate: 1, seconds: 1, imagesPerSecond: 1)
    }

    func testDeadColumnsAreNamedWithTheAdviceThatApplies() {
        let monitor = LearningMonitor(columns: GalaxyZooTree.columnNames, outputMode: .relu, learningRate: 1, meanOutputBias: false, baseline: 0.15)
        XCTAssertEqual(LearningMonitor.deadColumns(outputSums: [0, 1e-30, 0, 2, 0], trainingTargetSums: [1, 1, 0.5, 1, 0]), [0, 2],
                       "an output of 0 for a column whose targets are all 0 is its right answer")
        let w = monitor.epochWarnings(metrics: [row(1, train: 0.2, test: 0.1)], dead: [2, 4])
        XCTAssertEqual(w.count, 1)
        XCTAssertTrue(w[0].contains("2 of 37 outputs") && w[0].contains("(Class1.3, Class2.2)"), w[0])
        for advice in ["a lower --lr (this run: 1; try 0.1)", "--mean-output-bias", "--output constrained"] {
            XCTAssertTrue(w[0].contains(advice), "\(advice): \(w[0])")
        }
        // Advice a run already follows is not given, and other columns than Galaxy Zoo's get no --output constrained.
        let other = LearningMonitor(columns: ["Spiral"], outputMode: .relu, learningRate: 0.5, meanOutputBias: true, baseline: 0.5)
        XCTAssertEqual(other.advice, "try a lower --lr (this run: 0.5; try 0.05)")
        let all = other.epochWarnings(metrics: [row(1, train: 0.7, test: 0.7), row(2, train: 0.7, test: 0.7), row(3, train: 0.7, test: 0.7)], dead: [0])
        XCTAssertEqual(all.count, 1, "every output dead says it all: \(all)")
        XCTAssertTrue(all[0].hasPrefix("warning: every output (all 1) answered 0 for every test image after epoch 3"), all[0])
    }

    func testAFlatLossAndAWorseThanBaselineRunAreWarnedAbout() {
        let monitor = LearningMonitor(columns: ["a", "b"], outputMode: .relu, learningRate: 0.1, meanOutputBias: false, baseline: 0.15)
        // Above the baseline but improving is learning (the seed's recipe starts slowly); above it and no better
        // than an earlier epoch is a warning.
        XCTAssertEqual(monitor.epochWarnings(metrics: [row(1, train: 0.3, test: 0.2)], dead: []), [])
        XCTAssertEqual(monitor.epochWarnings(metrics: [row(1, train: 0.3, test: 0.2), row(2, train: 0.25, test: 0.16)], dead: []), [])
        let worse = monitor.epochWarnings(metrics: [row(1, train: 0.3, test: 0.2), row(2, train: 0.25, test: 0.16), row(3, train: 0.25, test: 0.17)], dead: [])
        XCTAssertEqual(worse.count, 1)
        XCTAssertTrue(worse[0].contains("test RMSE 0.17000 after epoch 3 is worse than the constant-mean baseline 0.15000"), worse[0])
        XCTAssertTrue(worse[0].contains("no better than epoch 2's"), worse[0])
        // Three epochs whose training RMSE agrees to its last printed digits; a change in the 6th digit is learning.
        let flat = [row(1, train: 0.2000001, test: 0.1), row(2, train: 0.2, test: 0.1), row(3, train: 0.20000005, test: 0.1)]
        let w = monitor.epochWarnings(metrics: flat, dead: [])
        XCTAssertEqual(w.count, 1)
        XCTAssertTrue(w[0].contains("has not changed over the last 3 epochs (train RMSE 0.200000)"), w[0])
        let learning = [row(1, train: 0.2002, test: 0.1), row(2, train: 0.2001, test: 0.1), row(3, train: 0.2, test: 0.1)]
        XCTAssertEqual(monitor.epochWarnings(metrics: learning, dead: []), [])
        XCTAssertEqual(monitor.epochWarnings(metrics: Array(flat.prefix(2)), dead: []), [], "two epochs are not yet a plateau")
    }

    func testEveryOutputZeroInsideAnEpoch() {
        // The loss grew by the targets' squares (float32 accumulation: relative error ~1e-7): every output 0.
        XCTAssertTrue(LearningMonitor.everyOutputAnsweredZero(lossGrowth: 12.345678 * (1 + 3e-7), targetSquares: 12.345678))
        // An output of 0.01 against targets of 0.5 changes each square by 2%: alive.
        XCTAssertFalse(LearningMonitor.everyOutputAnsweredZero(lossGrowth: 0.49 * 0.49 * 8, targetSquares: 0.25 * 8))
        XCTAssertFalse(LearningMonitor.everyOutputAnsweredZero(lossGrowth: 0, targetSquares: 0), "all-zero targets tell nothing")
    }
}
