import ArgumentParser
import Foundation
import GalaxyKit

/// `galaxy selftest`: the shader and network correctness checks, for a machine without Swift (the GPU kit).
struct SelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check every shader against its CPU reference on this device, and the network against PyTorch's golden step.")

    @Option(help: "Vulkan device index or name (default: the best; GALAXY_DEVICE).") var device: String?
    @Option(help: "PyTorch's golden file (sdnet_two_sgd_steps.safetensors); without it the golden step is skipped.") var golden: String?
    @Flag(help: "One JSON object instead of a line per check.") var json = false
    @Option(name: .customLong("configuration"),
            help: "Check only this kernel configuration (repeatable; default: all of them, which the output lists: device, portable, ...).")
    var only: [String] = []

    struct Report: Encodable {
        var device: String
        var configurations: [String]
        var checks: Int
        /// What was checked: each check's name up to its first space (a shader, or "golden" and "constrained" for the
        /// network checks), sorted.
        var ops: [String]
        var failures: [String]
        var worst_error_to_bound: Double
        var golden_checked: Bool
        var seconds: Double
    }

    func run() throws {
        try reportingErrors {
            let start = Date()
            let context = try openDevice(device)
            let test = SelfTest(context: context)
            if !json { test.log = { print($0) } }
            var configurations = SelfTest.configurations(context.info)
            if !only.isEmpty {
                let names = configurations.map(\.0)
                if let unknown = only.first(where: { !names.contains($0) }) {
                    throw ValidationError("--configuration \(unknown): not one of this device's (\(names.joined(separator: ", ")))")
                }
                configurations = configurations.filter { only.contains($0.0) }
            }
            let goldenURL = golden.map { URL(fileURLWithPath: $0) }
            if let goldenURL, !FileManager.default.fileExists(atPath: goldenURL.path) {
                throw ValidationError("--golden \(goldenURL.path): no such file")
            }
            _ = ValidationLog.drain()
            try test.run(configurations: configurations, golden: goldenURL)
            var failures = test.checks.filter { !$0.passed }.map { "\($0.name): \($0.failure ?? "")" }
            failures += ValidationLog.drain().map { "vulkan validation: \($0)" }
            let worst = test.checks.filter(\.passed).map(\.worst).max() ?? 0
            let report = Report(device: "\(context.info.name) (\(context.info.type), subgroup \(context.info.subgroupSize))",
                                configurations: configurations.map(\.0), checks: test.checks.count,
                                ops: Set(test.checks.map { String($0.name.prefix { $0 != " " }) }).sorted(), failures: failures,
                                worst_error_to_bound: worst, golden_checked: goldenURL != nil, seconds: Date().timeIntervalSince(start))
            if json {
                try printJSON(report)
            } else {
                print("\(test.checks.count) checks in \(configurations.count) configurations (\(configurations.map(\.0).joined(separator: ", "))), "
                      + "\(failures.count) failed; worst error / float32 bound of those passed: \(String(format: "%.3g", worst))"
                      + (goldenURL == nil ? "; PyTorch's golden step not checked (no --golden)" : ""))
            }
            if !failures.isEmpty { throw ExitCode.failure }
        }
    }
}
