import Foundation

/// The per-epoch scalars as metrics.csv prints them and the TensorBoard event file records them: one
/// table of (CSV column, TensorBoard tag, printed text), so the two cannot disagree. TensorBoard gets
/// the printed value as a float32 (the CSV's precision: 6 decimals for RMSE).
///
/// Tags group in TensorBoard's scalar view by their first path element: `rmse/` (train, test, and the
/// in-epoch `rmse/train_running`), `rmse_test_by_question/` (Q1...Q11), `optimizer/`, `time/`, `health/` (outputs dead on the test set).
public enum MetricsTable {
    /// The in-epoch training RMSE, at the progress line's pace: the epoch's running value so far.
    public static let runningTrainTag = "rmse/train_running"
    /// A tag every epoch's summary holds (TensorBoardLog.resume finds the epochs a file has by it).
    public static let epochKeyTag = "rmse/test"
    /// The same of a Dirichlet run, whose loss is the mean negative log-likelihood per galaxy (`nll/...`).
    public static let nllEpochKeyTag = "nll/test"
    public static let nllRunningTrainTag = "nll/train_running"

    /// (CSV column, tag) of every scalar, in the CSV's order; `questions` per-question columns follow the others.
    /// `nll`: a Dirichlet run's, whose train and test columns are the mean NLL per galaxy.
    public static func columns(questions: Int, nll: Bool = false) -> [(column: String, tag: String)] {
        (nll ? [("epoch", "epoch"), ("train_nll", "nll/train"), ("test_nll", "nll/test")] : [("epoch", "epoch"), ("train_rmse", "rmse/train"), ("test_rmse", "rmse/test")])
        + [("lr", "optimizer/lr"),
         ("seconds", "time/epoch_seconds"), ("images_per_second", "time/images_per_second"),
         ("step_seconds", "time/step_seconds"), ("host_share", "time/host_share"), ("dead_outputs", "health/dead_outputs")]
            + (0..<questions).map { ("test_rmse_q\($0 + 1)", "rmse_test_by_question/Q\($0 + 1)") }
    }

    /// The printed cells of one row (empty: a value the row does not have).
    public static func cells(_ m: EpochMetrics, questions: Int) -> [String] {
        var cells = [String(format: "%d", m.epoch), String(format: "%.6f", m.trainRMSE), String(format: "%.6f", m.testRMSE),
                     String(format: "%.6g", m.learningRate), String(format: "%.2f", m.seconds), String(format: "%.2f", m.imagesPerSecond)]
        cells += m.stepSeconds.map { [String(format: "%.2f", $0), String(format: "%.4f", m.hostShare!)] } ?? ["", ""]
        cells.append(m.deadOutputs.map { "\($0)" } ?? "")
        let byQuestion = m.testRMSEByQuestion ?? []
        cells += (0..<questions).map { $0 < byQuestion.count ? String(format: "%.6f", byQuestion[$0]) : "" }
        return cells
    }

    /// metrics.csv: a header and one line per epoch, with per-question columns when the rows have them
    /// (data with Kaggle's 37 answer columns).
    public static func csv(_ metrics: [EpochMetrics]) -> String {
        let questions = metrics.map { $0.testRMSEByQuestion?.count ?? 0 }.max() ?? 0
        var csv = columns(questions: questions, nll: metrics.first?.measure == EpochMetrics.nll).map(\.column).joined(separator: ",") + "\n"
        for m in metrics { csv += cells(m, questions: questions).joined(separator: ",") + "\n" }
        return csv
    }

    /// One epoch's scalars for TensorBoard: every non-empty cell under its tag.
    public static func scalars(_ m: EpochMetrics) -> [(tag: String, value: Float)] {
        let questions = m.testRMSEByQuestion?.count ?? 0
        return zip(columns(questions: questions, nll: m.measure == EpochMetrics.nll), cells(m, questions: questions)).compactMap { column, cell in
            Float(cell).map { (column.tag, $0) }
        }
    }

    /// Per-question RMSE over `rows` test rows from per-column sums of squared errors; nil unless the
    /// columns have a decision tree (the run's schema, or the built-in one they are).
    public static func questionRMSE(columnSSE: [Double], rows: Int, tree: AnswerSchema?) -> [Double]? {
        guard let tree, tree.answerCount == columnSSE.count, rows > 0 else { return nil }
        return tree.questionRanges.map { range in
            (range.reduce(0.0) { $0 + columnSSE[$1] } / Double(rows * range.count)).squareRoot()
        }
    }
}
