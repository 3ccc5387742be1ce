import XCTest
@testable import GalaxyKit

/// The activation arena's plan (ActivationPlan): what the recorded passes touch is what the op table
/// declares, no tensor is overwritten while it is still to be read, and training holds little more than
/// the weights, gradients, momentum and one batch of activations.
final class ActivationPlanTests: GPUTestCase {
    /// Records forward, loss, evaluation and backward (not run) and returns each op's dispatches.
    func recordAll(_ net: DeviceNetwork, batch: Int) throws -> (CommandSequence, [(name: String, span: Range<Int>)]) {
        let seq = try CommandSequence(context)
        var spans: [(name: String, span: Range<Int>)] = []
        for phase in [NetworkOp.Phase.forward, .loss, .evaluation, .backward] where phase != .backward || net.training || net.saliency {
            try net.record(seq, phase: phase, OpArguments(batch: batch), spans: { spans.append(($0, $1)) })
        }
        return (seq, spans)
    }

    func testRecordedPassesReadOnlyBytesNothingOverwrote() throws {
        for mode in [OutputMode.relu, .constrained] {
            for (training, saliency, batch) in [(true, false, 128), (true, false, 5), (false, false, 3), (false, true, 4)] {
                let what = "\(mode.argument), training \(training), saliency \(saliency), batch \(batch)"
                let net = try DeviceNetwork(kernels: Kernels(context, path: .sharedMemory()), outputs: 37, maxBatch: batch, training: training, outputMode: mode,
                                            saliency: saliency)
                let (seq, spans) = try recordAll(net, batch: batch)
                XCTAssertEqual(spans.map(\.name), net.plan.opNames, what)
                func key(_ r: BufferRange) -> [Int] { [r.offset, r.bytes] }
                // What each op's dispatches bind in the arena is exactly what the table says it reads and writes.
                for (i, op) in spans.enumerated() {
                    XCTAssertFalse(op.span.isEmpty, "\(what): \(op.name) recorded nothing")
                    let reads = Set(op.span.flatMap { seq.accesses[$0].reads }.filter { $0.buffer === net.arena }.map(key))
                    let writes = Set(op.span.flatMap { seq.accesses[$0].writes }.filter { $0.buffer === net.arena }.map(key))
                    XCTAssertEqual(reads, Set(net.plan.reads(ofOp: i).map { key(net.tensor($0)) }), "\(what): \(op.name) reads")
                    XCTAssertEqual(writes, Set(net.plan.writes(ofOp: i).map { key(net.tensor($0)) }), "\(what): \(op.name) writes")
                }
                // Replay the table over the arena, 256-byte block by block: whoever wrote a block last owns it,
                // and a read finds every block of its tensor still owned by that tensor.
                let block = ActivationPlan.alignment
                var owner = [String?](repeating: nil, count: net.plan.arenaBytes / block)
                func write(_ name: String) {
                    let t = net.plan.tensors[name]!
                    for b in (t.offset / block)..<((t.offset + t.bytes) / block) { owner[b] = name }
                }
                func read(_ name: String, by op: String) {
                    let t = net.plan.tensors[name]!
                    let lost = ((t.offset / block)..<((t.offset + t.bytes) / block)).first { owner[$0] != name }
                    XCTAssertNil(lost, "\(what): \(op) reads \(name), but \(lost.flatMap { owner[$0] } ?? "nothing") wrote over block \(lost ?? 0)")
                }
                write("input")
                write("target")
                for i in spans.indices {
                    for name in net.plan.reads(ofOp: i) { read(name, by: spans[i].name) }
                    for name in net.plan.writes(ofOp: i) { write(name) }
                }
                read("output", by: "the caller")
                read("input", by: "the caller")
                if saliency { read("dInput", by: "the caller") }
                // Reuse happens: the arena is smaller than its tensors side by side.
                let sideBySide = net.plan.tensors.values.map(\.bytes).reduce(0, +)
                if training { XCTAssertLessThan(net.plan.arenaBytes, sideBySide * 3 / 4, what) }
                print("\(what): arena \(net.plan.arenaBytes >> 10) KiB, tensors side by side \(sideBySide >> 10) KiB")
            }
        }
    }

    func testPlanTensorsAliveTogetherAreDisjoint() throws {
        let net = try DeviceNetwork(kernels: kernels, outputs: 37, maxBatch: 7, training: true, outputMode: .constrained)
        let all = net.plan.tensors.values.sorted { $0.name < $1.name }
        // Every tensor but the input's gradient, which only a saliency network has.
        XCTAssertEqual(Set(all.map(\.name)), Set(DeviceNetwork.activationSizes(outputs: 37).keys).subtracting(["dInput"]))
        var shared = 0
        for (i, a) in all.enumerated() {
            XCTAssertEqual(a.offset % ActivationPlan.alignment, 0, a.name)
            XCTAssertLessThanOrEqual(a.offset + a.bytes, net.plan.arenaBytes, a.name)
            for b in all[(i + 1)...] {
                if a.live.overlaps(b.live) {
                    XCTAssertFalse(a.overlaps(b), "\(a.name) \(a.live) and \(b.name) \(b.live) are alive together and share bytes")
                } else if a.overlaps(b) {
                    shared += 1
                }
            }
        }
        XCTAssertGreaterThan(shared, 5, "tensors with disjoint lifetimes share bytes")
    }

    /// A batch whose activations no heap can hold: an error naming the buffer, its size, the heap and --batch.
    func testActivationsTooLargeForTheDeviceAreAClearError() throws {
        XCTAssertThrowsError(try DeviceNetwork(kernels: kernels, outputs: 37, maxBatch: 20_000, training: true)) { error in
            let text = "\(error)"
            for part in ["activations (batch 20000)", "GiB", "largest heap", "--batch"] { XCTAssertTrue(text.contains(part), "\(part) not in: \(text)") }
        }
    }

    /// At batch 128 training holds at most 1.35x weights + gradients + momentum + one batch of
    /// activations, in the tiles a small job gets here (their pipelines are compiled for the network tests
    /// anyway) and in the GPU configuration (whose split reductions add scratch).
    func testTrainingMemoryWithinBound() throws {
        for (name, k) in [("small-job", smallJobKernels), ("gpu", Kernels(context, path: .sharedMemory()))] {
            for mode in [OutputMode.relu, .constrained] {
                let net = try DeviceNetwork(kernels: k, outputs: 37, maxBatch: 128, training: true, outputMode: mode)
                _ = try recordAll(net, batch: 128)
                if name == "gpu" { XCTAssertGreaterThan(k.scratchBytes, 0, "the split reductions' scratch is counted") }
                let minimum = DeviceNetwork.minimumBytes(outputs: 37, batch: 128)
                let ratio = Double(net.deviceBytes) / Double(minimum)
                print(String(format: "%@ tiles, %@: %.1f MiB held, %.1f MiB minimum, ratio %.3f", name, mode.argument,
                             Double(net.deviceBytes) / 1048576, Double(minimum) / 1048576, ratio))
                XCTAssertLessThanOrEqual(ratio, 1.35, "\(name) \(mode.argument)")
            }
        }
    }
}
