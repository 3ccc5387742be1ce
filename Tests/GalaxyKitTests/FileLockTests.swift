import Foundation
import XCTest
@testable import GalaxyKit

/// The run directory's and the caches' lock: a live holder is refused at once; a holder that is exiting is
/// waited for (an mpirun job resumed right after a failed one found the old rank 0 still holding its run).
final class FileLockTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-lock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    func testAnExitingHolderIsWaitedForAndALiveOneIsNot() throws {
        let url = dir.appendingPathComponent("train.lock")
        nonisolated(unsafe) let held = try FileLock.acquire(url, purpose: "test")  // a second open file: flock refuses it too

        var start = Date()
        XCTAssertThrowsError(try FileLock.acquire(url, purpose: "live", exitingHolderGrace: 10) { _ in false }) { error in
            guard case FileLock.Failure.held(let holder) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(holder.pid, getpid())
            XCTAssertEqual(holder.host, ProcessInfo.processInfo.hostName)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1, "a live holder is refused at once")

        start = Date()
        XCTAssertThrowsError(try FileLock.acquire(url, purpose: "late", exitingHolderGrace: 0.2) { _ in true })
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.2, "an exiting holder is waited for, up to the grace")

        let released = expectation(description: "released")
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { held.release(); released.fulfill() }
        start = Date()
        let taken = try FileLock.acquire(url, purpose: "next", exitingHolderGrace: 10) { _ in true }
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.25)
        wait(for: [released], timeout: 5)
        XCTAssertTrue(try String(contentsOf: url, encoding: .utf8).contains("purpose=next"))
        taken.release()
    }

    func testAnExitingProcessIsReadFromProcStat() throws {
        let live = "4242 (galaxy) S 1 4242 4242 0 -1 4194560 913 0 0 0 5 3 0 0 20 0 9 0"
        XCTAssertFalse(FileLock.Holder.isExiting(stat: live))
        XCTAssertTrue(FileLock.Holder.isExiting(stat: live.replacingOccurrences(of: " 4194560 ", with: " 4194564 ")))  // PF_EXITING
        XCTAssertTrue(FileLock.Holder.isExiting(stat: "4242 (galaxy) Z 1 4242 4242 0 -1 4227084 913 0"))
        // A command name with spaces and parentheses: the fields follow the last ")".
        XCTAssertFalse(FileLock.Holder.isExiting(stat: "4242 (a) Z (b) S 1 4242 4242 0 -1 4194560 913 0"))
        XCTAssertFalse(FileLock.Holder.isExiting(stat: "garbage"))

        let host = ProcessInfo.processInfo.hostName
        XCTAssertFalse(FileLock.Holder(pid: getpid(), host: host, line: "").isExitingOnThisHost, "this process is alive")
        // A child that has exited and is not reaped yet: a zombie.
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { argv.forEach { free($0) } }
        XCTAssertEqual(posix_spawn(&pid, "/bin/true", nil, nil, argv, environ), 0)
        var zombie = false
        for _ in 0..<500 where !zombie {
            zombie = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") == true
            if !zombie { usleep(10_000) }
        }
        XCTAssertTrue(zombie)
        XCTAssertTrue(FileLock.Holder(pid: pid, host: host, line: "").isExitingOnThisHost)
        XCTAssertFalse(FileLock.Holder(pid: pid, host: host + "-elsewhere", line: "").isExitingOnThisHost, "another host's process")
        var status: Int32 = 0
        XCTAssertEqual(waitpid(pid, &status, 0), pid)
        XCTAssertFalse(FileLock.Holder(pid: pid, host: host, line: "").isExitingOnThisHost, "a process that is gone")
    }
}
