import ArgumentParser
import Foundation
import GalaxyKit

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a run's report: one self-contained HTML page (curves, per-question RMSE, calibration, galleries, saliency maps).")

    @Argument(help: ArgumentHelp("The run directory (galaxy train --run).", valueName: "RUN")) var runPath: String
    @Option(help: "Data folder in the Kaggle layout. Default: the one the run recorded in RUN/data.json.") var data: String?
    @Option(help: "The HTML file to write. Default: RUN/report.html.") var out: String?
    @Option(help: "Vulkan device index or name substring.") var device: String?

    func run() throws {
        try reportingErrors {
            let runDir = URL(fileURLWithPath: runPath)
            let context = try openDevice(device)
            let report = try RunReport.build(runDir: runDir, data: data.map { DataSource(dataDir: URL(fileURLWithPath: $0)) }, context: context, log: log)
            let file = out.map { URL(fileURLWithPath: $0) } ?? runDir.appendingPathComponent("report.html")
            try AtomicFile.write(Data(report.html.utf8), to: file)
            for note in report.omitted { log("left out: \(note)") }
            if let n = report.numbers {
                print(String(format: "test split: %d galaxies, RMSE %.5f, constant-mean baseline %.5f", n.testCount, n.rmse, n.baseline))
            }
            print("report: \(file.path)")
        }
    }
}
