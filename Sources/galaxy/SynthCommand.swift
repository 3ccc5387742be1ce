import ArgumentParser
import Foundation
import GalaxyKit

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a synthetic Galaxy Zoo data set in the Kaggle layout (images + vote fractions).")

    @Option(help: "Number of labelled training galaxies.") var count = 2000
    @Option(help: "Random seed; the same seed gives byte-identical output.") var seed: UInt64 = 1
    @Option(help: "Output directory (new, empty, or an earlier synth output).") var out: String
    @Option(name: .customLong("test-count"), help: "Number of unlabelled test galaxies (images_test_rev1).") var testCount = 0
    @Option(help: "JPEG quality, 1...100.") var quality = 90
    @Flag(help: "Write vote counts (how many simulated volunteers gave each answer; 5 for most galaxies, 30-60 for some, as in GZ DECaLS) instead of fractions.")
    var counts = false
    @Option(help: "The decision tree of --counts: kaggle (the 37 Kaggle columns) or decals-dr5 / decals-dr8 (34 GZ DECaLS columns).")
    var schema = "kaggle"

    func run() throws {
        try reportingErrors {
            let dir = URL(fileURLWithPath: out)
            if !counts && schema != "kaggle" { throw ValidationError("--schema \(schema) needs --counts (fractions are written in the Kaggle tree)") }
            let s = try GalaxySynth.write(
                to: dir, options: .init(count: count, testCount: testCount, seed: seed, quality: quality,
                                        counts: counts ? try AnswerSchema.resolve(schema) : nil))
            let images = s.trainingIDs.count + s.testIDs.count
            print("wrote \(s.trainingIDs.count) training images to \(dir.appendingPathComponent(GalaxySynth.trainingDirectory).path)")
            if !s.testIDs.isEmpty {
                print("wrote \(s.testIDs.count) test images to \(dir.appendingPathComponent(GalaxySynth.testDirectory).path)")
            }
            print("wrote vote \(counts ? "counts (schema \(schema))" : "fractions") to \(dir.appendingPathComponent(GalaxySynth.solutionsFile).path)")
            print(String(format: "%d images, %.1f MB in %.2f s (%.0f images/s), seed %llu",
                         images, Double(s.bytesWritten) / 1e6, s.seconds, Double(images) / max(s.seconds, 1e-9), seed))
        }
    }
}
