import Foundation
import XCTest
@testable import GalaxyKit

final class DataCacheTests: XCTestCase {
    /// A Kaggle-layout folder with `count` small JPEGs (212x212, enough for the 207 crop) and a 2-column CSV.
    func makeDataDir(count: Int = 5) throws -> DataSource {
        let dir = try makeTempDir(self)
        let images = dir.appendingPathComponent(DataSource.defaultImagesName)
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        var csv = "GalaxyID,Class1.1,Class1.2\n"
        for i in 0..<count {
            let id = 1000 + i
            try Data(JPEG.encode(patternImage(width: 212, height: 212, seed: i))).write(to: images.appendingPathComponent("\(id).jpg"))
            csv += "\(id),\(Double(i) / 10),\(1 - Double(i) / 10)\n"
        }
        try csv.write(to: dir.appendingPathComponent(DataSource.defaultCSVName), atomically: true, encoding: .utf8)
        return DataSource(dataDir: dir)
    }

    func testPrepareThenLoadFromCache() throws {
        let source = try makeDataDir()
        let (first, report1) = try GalaxyCache.loadOrPrepareWithReport(source, strict: true, progress: nil)
        XCTAssertTrue(report1.rebuilt)
        XCTAssertNil(report1.rebuildReason)
        XCTAssertEqual(first.columns, ["Class1.1", "Class1.2"])
        XCTAssertEqual(first.ids, [1000, 1001, 1002, 1003, 1004])
        XCTAssertEqual(first.targets[2...3], [0.1, 0.9])
        XCTAssertEqual(first.images.count, 5 * 3 * 69 * 69)
        let direct = try preprocessGalaxyImage(contentsOf: source.imageURL(for: 1003))
        XCTAssertEqual(Array(first.images[(3 * direct.count)..<(4 * direct.count)]), direct)

        let (second, report2) = try GalaxyCache.loadOrPrepareWithReport(source, strict: true, progress: nil)
        XCTAssertFalse(report2.rebuilt)
        XCTAssertEqual(second.ids, first.ids)
        XCTAssertEqual(second.targets, first.targets)
        XCTAssertEqual(second.images, first.images)
        // Written atomically: only the cache itself is left next to the inputs, no temporary file (and the
        // lock file that lets one process prepare while another waits; it holds no data).
        let names = try FileManager.default.contentsOfDirectory(atPath: source.dataDir.path).sorted()
        XCTAssertEqual(names, [DataSource.defaultCSVName, DataSource.defaultCacheName, DataSource.defaultCacheName + ".lock",
                               DataSource.defaultImagesName].sorted())
    }

    func testSeparateCSVImagesAndCachePaths() throws {
        let source = try makeDataDir(count: 2)
        let other = try makeTempDir(self)
        let csv = other.appendingPathComponent("spiral.csv")
        try "GalaxyID,Spiral\n1001,1\n".write(to: csv, atomically: true, encoding: .utf8)
        let custom = DataSource(dataDir: other, csv: csv, images: source.images, cache: other.appendingPathComponent("c.bin"))
        let data = try GalaxyCache.loadOrPrepare(custom, strict: true, progress: nil)
        XCTAssertEqual(data.columns, ["Spiral"])
        XCTAssertEqual(data.ids, [1001])
        XCTAssertTrue(FileManager.default.fileExists(atPath: other.appendingPathComponent("c.bin").path))
    }

    func testStaleCacheIsRebuiltWhenCSVChanges() throws {
        let source = try makeDataDir(count: 3)
        _ = try GalaxyCache.loadOrPrepare(source, strict: true, progress: nil)
        try "GalaxyID,Class1.1,Class1.2\n1000,0.5,0.5\n1002,0.25,0.75\n".write(to: source.csv, atomically: true, encoding: .utf8)
        let (data, report) = try GalaxyCache.loadOrPrepareWithReport(source, strict: true, progress: nil)
        XCTAssertTrue(report.rebuilt)
        XCTAssertTrue(report.rebuildReason?.contains("stale") ?? false, report.rebuildReason ?? "nil")
        XCTAssertEqual(data.ids, [1000, 1002])
        XCTAssertEqual(data.targets, [0.5, 0.5, 0.25, 0.75])
    }

    func testStaleCacheIsRebuiltWhenAnImageChanges() throws {
        let source = try makeDataDir(count: 3)
        let before = try GalaxyCache.loadOrPrepare(source, strict: true, progress: nil)
        try Data(JPEG.encode(RGBImage(width: 212, height: 212, pixels: [UInt8](repeating: 200, count: 212 * 212 * 3))))
            .write(to: source.imageURL(for: 1001))
        let (after, report) = try GalaxyCache.loadOrPrepareWithReport(source, strict: true, progress: nil)
        XCTAssertTrue(report.rebuilt)
        XCTAssertTrue(report.rebuildReason?.contains("images") ?? false, report.rebuildReason ?? "nil")
        XCTAssertNotEqual(before.images, after.images)
        // JPEG of a flat 200 decodes to 200 (+-1 for the DCT rounding).
        XCTAssertTrue(after.images[(3 * 69 * 69)..<(6 * 69 * 69)].allSatisfy { abs(Int($0) - 200) <= 1 })
    }

    func testTruncatedCacheIsRebuiltNotUsed() throws {
        let source = try makeDataDir(count: 3)
        let good = try GalaxyCache.loadOrPrepare(source, strict: true, progress: nil)
        let bytes = try Data(contentsOf: source.cache)
        for cut in [bytes.count - 1, bytes.count / 2, 40, 4, 0] {
            try bytes.prefix(cut).write(to: source.cache)
            let (data, report) = try GalaxyCache.loadOrPrepareWithReport(source, strict: true, progress: nil)
            XCTAssertTrue(report.rebuilt, "cut at \(cut)")
            XCTAssertNotNil(report.rebuildReason, "cut at \(cut)")
            XCTAssertEqual(data.images, good.images)
        }
    }

    func testCorruptCacheIsRebuiltNotUsed() throws {
        let source = try makeDataDir(count: 3)
        let good = try GalaxyCache.loadOrPrepare(source, strict: true, progress: nil)
        var bytes = try Data(contentsOf: source.cache)
        bytes[bytes.count - 100] ^= 0x55   // inside the image payload
        try bytes.write(to: source.cache)
        let (data, report) = try GalaxyCache.loadOrPrepareWithReport(source, strict: true, progress: nil)
        XCTAssertTrue(report.rebuildReason?.contains("checksum") ?? false, report.rebuildReason ?? "nil")
        XCTAssertEqual(data.images, good.images)
        // A header claiming a huge count is caught by the size check, not by allocating it.
        bytes = try Data(contentsOf: source.cache)
        for i in 24..<32 { bytes[i] = 0x7F }
        try bytes.write(to: source.cache)
        let (_, report2) = try GalaxyCache.loadOrPrepareWithReport(source, strict: true, progress: nil)
        XCTAssertTrue(report2.rebuildReason?.contains("corrupt") ?? false, report2.rebuildReason ?? "nil")
    }

    func testOldFormatVersionIsRebuilt() throws {
        let source = try makeDataDir(count: 2)
        _ = try GalaxyCache.loadOrPrepare(source, strict: true, progress: nil)
        var bytes = try Data(contentsOf: source.cache)
        bytes[8] = 0xEE
        try bytes.write(to: source.cache)
        let (_, report) = try GalaxyCache.loadOrPrepareWithReport(source, strict: true, progress: nil)
        XCTAssertTrue(report.rebuildReason?.contains("format version") ?? false, report.rebuildReason ?? "nil")
    }

    func testForeignFileIsNeverOverwritten() throws {
        let source = try makeDataDir(count: 2)
        let precious = Data("not a cache, someone's notes\n".utf8)
        try precious.write(to: source.cache)
        XCTAssertThrowsError(try GalaxyCache.loadOrPrepare(source, strict: true, progress: nil)) { error in
            XCTAssertTrue("\(error)".contains("not a galaxy cache"), "\(error)")
        }
        XCTAssertEqual(try Data(contentsOf: source.cache), precious)
    }

    func testBadImagesAreSkippedAndReportedUnlessStrict() throws {
        let source = try makeDataDir(count: 5)
        let jpeg = try Data(contentsOf: source.imageURL(for: 1001))
        try jpeg.prefix(jpeg.count / 3).write(to: source.imageURL(for: 1001))                        // truncated
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0]).write(to: source.imageURL(for: 1002))  // PNG
        try Data(JPEG.encode(patternImage(width: 100, height: 300))).write(to: source.imageURL(for: 1003))           // too small

        XCTAssertThrowsError(try GalaxyCache.loadOrPrepare(source, strict: true, progress: nil)) { error in
            let text = "\(error)"
            for id in ["1001", "1002", "1003"] { XCTAssertTrue(text.contains("GalaxyID \(id)"), text) }
            XCTAssertTrue(text.contains("strict"), text)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: source.cache.path), "a strict failure writes no cache")

        let (data, report) = try GalaxyCache.loadOrPrepareWithReport(source, strict: false, progress: nil)
        XCTAssertEqual(data.ids, [1000, 1004])
        XCTAssertEqual(data.targets, [0.0, 1.0, 0.4, 0.6])
        XCTAssertEqual(report.skipped.map(\.id), [1001, 1002, 1003])
        XCTAssertTrue(report.skipped[1].reason.contains("PNG"), report.skipped[1].reason)
        XCTAssertTrue(report.skipped[2].reason.contains("100x300"), report.skipped[2].reason)
        // The skipped list is kept in the cache: a later load reports it again, and --strict refuses it.
        let (_, again) = try GalaxyCache.loadOrPrepareWithReport(source, strict: false, progress: nil)
        XCTAssertFalse(again.rebuilt)
        XCTAssertEqual(again.skipped, report.skipped)
        XCTAssertThrowsError(try GalaxyCache.loadOrPrepare(source, strict: true, progress: nil)) { error in
            XCTAssertTrue("\(error)".contains("GalaxyID 1002"), "\(error)")
        }
    }

    func testMissingImageNamesIDAndPath() throws {
        let source = try makeDataDir(count: 3)
        try FileManager.default.removeItem(at: source.imageURL(for: 1002))
        XCTAssertThrowsError(try GalaxyCache.loadOrPrepare(source, strict: false, progress: nil)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("GalaxyID 1002") && text.contains(source.imageURL(for: 1002).path), text)
        }
    }

    func testMissingImageFolderAndCSV() throws {
        let source = try makeDataDir(count: 1)
        let noImages = DataSource(dataDir: source.dataDir, images: source.dataDir.appendingPathComponent("nope"))
        XCTAssertThrowsError(try GalaxyCache.loadOrPrepare(noImages, strict: false, progress: nil)) { error in
            XCTAssertTrue("\(error)".contains("nope"), "\(error)")
        }
        let noCSV = DataSource(dataDir: source.dataDir, csv: source.dataDir.appendingPathComponent("missing.csv"))
        XCTAssertThrowsError(try GalaxyCache.loadOrPrepare(noCSV, strict: false, progress: nil)) { error in
            XCTAssertTrue("\(error)".contains("missing.csv"), "\(error)")
        }
    }

    func testAllImagesBadIsAnEmptyDataSet() throws {
        let source = try makeDataDir(count: 2)
        for id: Int64 in [1000, 1001] { try Data("junk".utf8).write(to: source.imageURL(for: id)) }
        XCTAssertThrowsError(try GalaxyCache.loadOrPrepare(source, strict: false, progress: nil)) { error in
            XCTAssertTrue("\(error)".contains("empty data set"), "\(error)")
        }
    }

    func testUnlabelledFolderListing() throws {
        let source = try makeDataDir(count: 3)
        try Data("x".utf8).write(to: source.images.appendingPathComponent("notes.txt"))
        let files = try listGalaxyImages(in: source.images)
        XCTAssertEqual(files.map(\.id), [1000, 1001, 1002])
        let pre = preprocessImageFiles(files.map(\.url))
        XCTAssertTrue(pre.failures.isEmpty)
        XCTAssertEqual(pre.images.count, 3 * GalaxyDataset.imageBytes)
        XCTAssertThrowsError(try listGalaxyImages(in: source.dataDir.appendingPathComponent("nothing")))
    }

    func testProgressReporterPlainAndTerminal() {
        final class Sink: @unchecked Sendable {
            let lock = NSLock(); var text = ""
            func add(_ s: String) { lock.lock(); text += s; lock.unlock() }
        }
        let plain = Sink()
        let p = ProgressReporter(label: "prepare", total: 20, interactive: false, write: { plain.add($0) })
        for _ in 0..<20 { p.advance() }
        p.finish()
        let lines = plain.text.split(separator: "\n")
        // One line per 10% step (the last one is also the final state); no carriage returns in a log.
        XCTAssertEqual(lines.count, 10, plain.text)
        XCTAssertTrue(lines.last!.hasPrefix("prepare 20/20 100%"), String(lines.last!))
        XCTAssertFalse(plain.text.contains("\r"))

        let tty = Sink()
        let t = ProgressReporter(label: "epoch 1", total: 4, interactive: true, write: { tty.add($0) })
        t.update(done: 2, extra: "loss 0.1")
        t.advance(by: 2)
        t.finish()
        XCTAssertTrue(tty.text.contains("\r"))
        XCTAssertTrue(tty.text.contains("[########################]"), tty.text)
        XCTAssertTrue(tty.text.contains("4/4 100%") && tty.text.contains("loss 0.1"), tty.text)
        XCTAssertTrue(tty.text.hasSuffix("\n"))
        // Done within a second: no rate and no ETA (they would be noise), only the time taken.
        XCTAssertFalse(tty.text.contains("/s") || tty.text.contains("ETA"), tty.text)
        XCTAssertTrue(tty.text.contains("in 0:00"), tty.text)
    }

    /// A rate is shown once the phase has run for a second, and it is done over elapsed time.
    func testProgressRateNeedsASecondOfElapsedTime() {
        let p = ProgressReporter(label: "epoch 4/4", total: 307, interactive: false, write: { _ in })
        let start = Date()
        p.update(done: 128, now: start.addingTimeInterval(0.001))
        let early = p.statusLine(now: start.addingTimeInterval(0.002), bar: false)
        XCTAssertFalse(early.contains("/s") || early.contains("ETA"), early)
        // Still one batch done 2 s later: nothing to measure a rate by yet.
        let one = p.statusLine(now: start.addingTimeInterval(2), bar: false)
        XCTAssertFalse(one.contains("/s") || one.contains("ETA"), one)
        p.update(done: 256, now: start.addingTimeInterval(2.001))
        let later = p.statusLine(now: start.addingTimeInterval(2.001), bar: false)
        let rate = later.split(separator: " ").first { $0.hasSuffix("/s") }.flatMap { Double($0.dropLast(2)) }
        XCTAssertEqual(rate ?? 0, 64, accuracy: 0.05, later)  // 128 more in 2 s
        XCTAssertTrue(later.contains("ETA 0:01"), later)  // 51 left at 64/s
    }

    /// The rate is measured from the first item done, not from the start: the demo's first training step compiles
    /// every pipeline (about 20 s on a fresh machine), and measured from the start its 10% line read "4.2/s
    /// ETA 3:26" for an epoch that ended 40 s later.
    func testProgressRateStartsAfterACompilingFirstStep() {
        let p = ProgressReporter(label: "epoch 1/1", total: 960, interactive: false, write: { _ in })
        let start = Date()
        var t = start.addingTimeInterval(20)
        p.update(done: 8, now: t)
        for step in 2...12 { t += 0.34; p.update(done: 8 * step, now: t) }
        // 88 images in 11 steps of 0.34 s: 23.5/s, 864 left: 37 s. From the start it would be 96 in 23.74 s: 4.0/s, ETA 3:33.
        let line = p.statusLine(now: t, bar: false)
        XCTAssertTrue(line.hasPrefix("epoch 1/1 96/960 10% 23.5/s ETA 0:37"), line)

        // A resumed epoch's earlier steps count neither as progress now nor towards the rate.
        p.reset(label: "epoch 1/1", total: 960, done: 480)
        let r = Date()
        XCTAssertTrue(p.statusLine(now: r, bar: false).hasPrefix("epoch 1/1 480/960 50%"))
        p.update(done: 488, now: r.addingTimeInterval(20))
        let first = p.statusLine(now: r.addingTimeInterval(22), bar: false)
        XCTAssertFalse(first.contains("/s") || first.contains("ETA"), first)
        p.update(done: 496, now: r.addingTimeInterval(21))
        let next = p.statusLine(now: r.addingTimeInterval(21), bar: false)
        XCTAssertTrue(next.hasPrefix("epoch 1/1 496/960 51% 8.0/s ETA 0:58"), next)
    }
}
