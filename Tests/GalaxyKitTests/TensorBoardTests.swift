import Foundation
import XCTest
@testable import GalaxyKit

/// The event file's framing and its resume policy, on the file alone (TensorBoard's own reader checks
/// a training run's file in FormatReaderTests).
final class TensorBoardTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try makeTempDir(self) }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func testCRC32CKnownValues() {
        // The check value of CRC-32C (RFC 3720, B.4) and its all-zero 32-byte vector.
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
    }

    func testFramingStopsAtATornOrCorruptRecord() {
        let payloads: [[UInt8]] = [Array("first".utf8), [], Array(repeating: 7, count: 300)]
        let bytes = payloads.flatMap(TFRecord.frame)
        XCTAssertEqual(bytes.count, payloads.reduce(0) { $0 + $1.count + 16 })
        var (records, end) = TFRecord.records(bytes)
        XCTAssertEqual(records.map(\.data), payloads)
        XCTAssertEqual(end, bytes.count)
        for cut in [1, 4, 13, 200] {
            (records, end) = TFRecord.records(Array(bytes.dropLast(cut)))
            XCTAssertEqual(records.map(\.data), Array(payloads.prefix(2)), "cut \(cut)")
            XCTAssertEqual(end, 2 * 16 + 5)
        }
        var corrupt = bytes
        corrupt[12 + 2] ^= 1  // a bit of the first record's data
        XCTAssertTrue(TFRecord.records(corrupt).records.isEmpty)
        corrupt = bytes
        corrupt[16 + 5 + 3] ^= 1  // the second record's length
        XCTAssertEqual(TFRecord.records(corrupt).records.count, 1)
    }

    /// Appends `scalars` at `step` to the file as a run would, below the log's API (a killed run's leftovers).
    private func appendRaw(_ url: URL, step: Int64, _ scalars: [(tag: String, value: Float)], torn: Bool = false) throws {
        var bytes = TFRecord.frame(TensorBoardLog.event(step: step, scalars: scalars, wallTime: Date()).serializedBytes())
        if torn { bytes.removeLast(bytes.count / 2) }
        let h = try FileHandle(forWritingTo: url)
        h.seekToEndOfFile()
        h.write(Data(bytes))
        try h.close()
    }

    func testResumeKeepsEachStepOnceAndAddsTheEpochsTheFileLacks() throws {
        let epoch = { (e: Int64) in (step: 10 * e, scalars: [(tag: "rmse/test", value: Float(e)), (tag: "epoch", value: Float(e))]) }
        var log: TensorBoardLog? = try TensorBoardLog.create(in: dir)
        try log!.append(step: 5, scalars: [("run", 0.5)])
        try log!.append(step: 10, scalars: [("run", 1.0)])
        try log!.append(step: epoch(1).step, scalars: epoch(1).scalars)
        try log!.append(step: 15, scalars: [("run", 1.5)])
        let url = log!.url
        log = nil

        // Resumed from a checkpoint at step 15 that the file agrees with: the file is kept as it is.
        let before = try Data(contentsOf: url)
        log = try TensorBoardLog.resume(in: dir, position: 15, required: [epoch(1)], key: "rmse/test")
        XCTAssertEqual(log!.url, url)
        XCTAssertEqual(try Data(contentsOf: url), before)
        log = nil

        // Killed after writing steps 20 and 25 and half a record, with the checkpoint still at 15.
        try appendRaw(url, step: 20, [("run", 99)])
        try appendRaw(url, step: 20, epoch(2).scalars)
        try appendRaw(url, step: 25, [("run", 99)], torn: true)
        log = try TensorBoardLog.resume(in: dir, position: 15, required: [epoch(1)], key: "rmse/test")
        var read = try TensorBoardLog.read(url)
        XCTAssertTrue(read.intact)
        XCTAssertEqual(read.versions, ["brain.Event:2"])
        XCTAssertEqual(read.scalars.map(\.step), [5, 10, 10, 10, 15])
        XCTAssertFalse(read.scalars.contains { $0.value == 99 || $0.value == 2 }, "\(read.scalars)")

        // The resumed run goes on; then a kill between its checkpoint at epoch 2 (step 20) and the event file's
        // append of that epoch: resuming adds the epoch from the checkpoint's state.
        try log!.append(step: 20, scalars: [("run", 2.0)])
        log = nil
        log = try TensorBoardLog.resume(in: dir, position: 20, required: [epoch(1), epoch(2)], key: "rmse/test")
        try log!.append(step: 25, scalars: [("run", 2.5)])
        log = nil
        read = try TensorBoardLog.read(url)
        XCTAssertTrue(read.intact)
        XCTAssertEqual(TensorBoardLog.files(in: dir), [url])
        for tag in ["run", "rmse/test", "epoch"] {
            let steps = read.scalars.filter { $0.tag == tag }.map(\.step)
            XCTAssertEqual(steps, tag == "run" ? [5, 10, 15, 20, 25] : [10, 20], tag)
        }
        XCTAssertEqual(read.scalars.filter { $0.tag == "rmse/test" }.map(\.value), [1, 2])
    }

    func testResumeWithoutAnEventFileWritesTheCheckpointsEpochs() throws {
        let log = try TensorBoardLog.resume(in: dir, position: 40, required: [(20, [("rmse/test", 0.25)]), (40, [("rmse/test", 0.125)])], key: "rmse/test")
        let read = try TensorBoardLog.read(log.url)
        XCTAssertEqual(read.versions, ["brain.Event:2"])
        XCTAssertEqual(read.scalars.map(\.step), [20, 40])
        XCTAssertEqual(read.scalars.map(\.value), [0.25, 0.125])
    }

    func testANewRunReplacesTheEventFileOfTheRunBefore() throws {
        let first = try TensorBoardLog.create(in: dir, now: Date(timeIntervalSince1970: 1_000))
        try first.append(step: 1, scalars: [("a", 1)])
        let second = try TensorBoardLog.create(in: dir, now: Date(timeIntervalSince1970: 2_000))
        XCTAssertEqual(TensorBoardLog.files(in: dir), [second.url])
        XCTAssertTrue(second.url.lastPathComponent.hasPrefix("events.out.tfevents.2000."), second.url.lastPathComponent)
        XCTAssertEqual(try TensorBoardLog.read(second.url).scalars.count, 0)
    }

    /// metrics.csv and the event file print and record the same numbers.
    func testMetricsTableGivesTheCSVsNumbersToTensorBoard() {
        let m = EpochMetrics(epoch: 3, trainRMSE: 0.123456789, testRMSE: 0.2, learningRate: 0.01, seconds: 12.345, imagesPerSecond: 99.999,
                             stepSeconds: 10, deadOutputs: 2, testRMSEByQuestion: (1...11).map { Double($0) / 100 })
        let csv = MetricsTable.csv([m]).split(separator: "\n")
        XCTAssertTrue(csv[0].hasPrefix("epoch,train_rmse,test_rmse,lr,seconds,images_per_second,step_seconds,host_share,dead_outputs,test_rmse_q1,"))
        XCTAssertEqual(String(csv[1]), "3,0.123457,0.200000,0.01,12.35,100.00,10.00,0.1900,2,0.010000,0.020000,0.030000,0.040000,0.050000,0.060000,0.070000,0.080000,0.090000,0.100000,0.110000")
        let scalars = MetricsTable.scalars(m)
        XCTAssertEqual(scalars.count, 20)
        XCTAssertEqual(scalars.first { $0.tag == "health/dead_outputs" }?.value, 2)
        XCTAssertEqual(scalars.first { $0.tag == "rmse/train" }?.value, Float("0.123457"))
        XCTAssertEqual(scalars.first { $0.tag == "rmse_test_by_question/Q11" }?.value, Float("0.110000"))
        var old = m
        old.stepSeconds = nil
        old.testRMSEByQuestion = nil
        old.deadOutputs = nil
        XCTAssertEqual(MetricsTable.csv([old]), "epoch,train_rmse,test_rmse,lr,seconds,images_per_second,step_seconds,host_share,dead_outputs\n3,0.123457,0.200000,0.01,12.35,100.00,,,\n")
        XCTAssertEqual(MetricsTable.csv([old, m]).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).count }, [20, 20, 20])
        XCTAssertEqual(MetricsTable.scalars(old).map(\.tag), ["epoch", "rmse/train", "rmse/test", "optimizer/lr", "time/epoch_seconds", "time/images_per_second"])
    }
}
