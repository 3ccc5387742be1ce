import XCTest
@testable import GalaxyKit

/// BatchFeeder over a resident and a streamed data set: every step's augmented batch equals the CPU
/// reference's for the step's data set rows, whichever slot and position the streamed images sit in.
final class BatchFeederTests: GPUTestCase {
    func testEveryStepGetsItsRowsResidentAndStreamed() throws {
        let side = 9, count = 23, batch = 5, imageBytes = 3 * 9 * 9
        var rng = SplitMix64(seed: 81)
        let images = (0..<(count * imageBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let targets = (0..<(count * 3)).map { _ in rng.uniform(0, 1) }
        let order = (0..<count).shuffled(using: &rng)
        let steps = stride(from: 0, to: count, by: batch).map { Array(order[$0..<min(count, $0 + batch)]) }  // 5, 5, 5, 5, 3
        for budget in [nil, 4 * batch * imageBytes, 2 * batch * imageBytes] {
            let data = try DeviceDataset(context, images: images, side: side, targets: targets, targetWidth: 3, budget: budget, batch: batch)
            XCTAssertEqual(data.residency, budget == nil ? .resident : .streamed(slotImages: budget! / 2 / imageBytes))
            if budget != nil {
                // The discrete layout (GALAXY_MEMORY=discrete) fills the slots through staging copies.
                XCTAssertEqual(data.staging.count, context.memoryPolicy.layout == .discrete ? 2 : 0)
            }
            let feeder = try BatchFeeder(data: data, maxBatch: batch, label: "test")
            let input = try output(batch * imageBytes), target = try output(batch * 3)
            var sequences: [[Int]: CommandSequence] = [:]
            for pass in 0..<2 {
                try feeder.begin(steps)
                var got: [[Float]] = []
                for (i, rows) in steps.enumerated() {
                    let key = [rows.count, i % 2, pass]
                    let seq = try sequences[key] ?? {
                        let s = try CommandSequence(context)
                        try feeder.recordBatch(s, kernels: kernels, parity: i % 2, batch: rows.count, mode: .random(seed: 3, epoch: UInt32(pass)),
                                               input: input.whole, target: target.whole)
                        return s
                    }()
                    sequences[key] = seq
                    try feeder.run(step: i, seq)
                    try feeder.finish()  // read the step's batch back before the next one overwrites it
                    got.append(try input.download(count: rows.count * imageBytes) + (try target.download(count: rows.count * 3)))
                }
                for (i, rows) in steps.enumerated() {
                    let want = Reference.augment(images: images, side: side, indices: rows.map { UInt32($0) }, mode: .random(seed: 3, epoch: UInt32(pass)))
                        + Reference.gatherRows(targets, width: 3, indices: rows.map { UInt32($0) })
                    XCTAssertEqual(got[i], want, "budget \(budget ?? -1), pass \(pass), step \(i)")
                }
            }
        }
    }
}
