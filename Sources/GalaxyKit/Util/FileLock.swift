import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock (flock) on a file, held until `release()` or the process's end: the
/// kernel drops it when the process dies, so kill -9 never leaves a stale lock. The file holds a line
/// naming the holder (PID, host, since when) for the message of a process that finds it taken.
public final class FileLock {
    public let url: URL
    private var fd: Int32

    /// Who holds a lock, as its file says.
    public struct Holder: Sendable, CustomStringConvertible {
        public var pid: Int32?
        public var host: String?
        public var line: String
        public var description: String {
            if let pid, let host { return "process \(pid) on host \(host)" }
            return line.isEmpty ? "another process" : line
        }

        /// The holder is a process of this host that has begun to exit (a zombie, or the kernel's PF_EXITING flag
        /// in /proc/PID/stat), so its locks go with it shortly.
        var isExitingOnThisHost: Bool {
            guard let pid, host == ProcessInfo.processInfo.hostName,
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
            return Holder.isExiting(stat: stat)
        }

        /// From a /proc/PID/stat line: state Z or X, or the PF_EXITING flag (0x4) in field 9. The command name,
        /// field 2, is in parentheses and may hold spaces and parentheses itself: the fields after it follow the last ")".
        static func isExiting(stat: String) -> Bool {
            guard let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // fields[0] is field 3 (the state), fields[6] field 9 (the flags).
            guard fields.count > 6, let flags = UInt64(fields[6]) else { return false }
            return fields[0] == "Z" || fields[0] == "X" || flags & 0x4 != 0
        }
    }

    public enum Failure: Error {
        /// Another process holds the lock.
        case held(by: Holder)
        /// The lock file cannot be created or opened (a read-only folder, say).
        case cannotOpen(String)
    }

    private init(url: URL, fd: Int32) {
        self.url = url
        self.fd = fd
    }

    deinit { release() }

    /// Takes the lock at once or fails naming its holder. A holder that is a process of this host in the middle
    /// of exiting is waited for, up to `exitingHolderGrace` seconds: the kernel drops a dying process's locks only
    /// once its memory is freed. Open MPI's mpirun returns as soon as it has sent SIGKILL to the ranks of a job
    /// that failed, and a rank with a large address space took 33 ms to end after mpirun had (2026-12-03, strace):
    /// a job resumed at once found the run directory still held by the old rank 0.
    public static func acquire(_ url: URL, purpose: String) throws -> FileLock {
        try acquire(url, purpose: purpose, exitingHolderGrace: exitingHolderGrace) { $0.isExitingOnThisHost }
    }

    /// How long `acquire` waits for an exiting holder.
    public static let exitingHolderGrace: TimeInterval = 30

    /// `acquire`, with the grace and the test of an exiting holder given (tests).
    static func acquire(_ url: URL, purpose: String, exitingHolderGrace grace: TimeInterval,
                        isExiting: (Holder) -> Bool) throws -> FileLock {
        let deadline = Date().addingTimeInterval(grace)
        while true {
            do { return try lock(url, purpose: purpose, wait: nil) } catch Failure.held(let holder) {
                guard isExiting(holder), Date() < deadline else { throw Failure.held(by: holder) }
                usleep(20_000)
            }
        }
    }

    /// Takes the lock, waiting for its holder to release it; `waiting` is told whom it waits for, once.
    public static func acquireWaiting(_ url: URL, purpose: String, waiting: @escaping (Holder) -> Void) throws -> FileLock {
        try lock(url, purpose: purpose, wait: waiting)
    }

    private static func lock(_ url: URL, purpose: String, wait: ((Holder) -> Void)?) throws -> FileLock {
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure.cannotOpen("\(url.path): cannot open the lock file: \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let busy = errno == EWOULDBLOCK
            guard busy else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw Failure.cannotOpen("\(url.path): cannot lock: \(reason)")
            }
            let holder = readHolder(url)
            guard let wait else {
                close(fd)
                throw Failure.held(by: holder)
            }
            wait(holder)
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    let reason = String(cString: strerror(errno))
                    close(fd)
                    throw Failure.cannotOpen("\(url.path): cannot lock: \(reason)")
                }
            }
        }
        let lock = FileLock(url: url, fd: fd)
        lock.writeHolder(purpose: purpose)
        return lock
    }

    /// The holder line, read with a few retries: a holder writes it right after taking the lock.
    static func readHolder(_ url: URL) -> Holder {
        var line = ""
        for attempt in 0..<5 {
            line = (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if !line.isEmpty { break }
            if attempt < 4 { usleep(20_000) }
        }
        var holder = Holder(pid: nil, host: nil, line: line)
        for field in line.split(separator: " ") {
            let kv = field.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            if kv[0] == "pid" { holder.pid = Int32(kv[1]) }
            if kv[0] == "host" { holder.host = kv[1] }
        }
        return holder
    }

    private func writeHolder(purpose: String) {
        let since = ISO8601DateFormatter().string(from: Date())
        let line = "pid=\(getpid()) host=\(ProcessInfo.processInfo.hostName) since=\(since) purpose=\(purpose)\n"
        _ = ftruncate(fd, 0)
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Releases the lock (the file stays; an empty file means nobody holds it).
    public func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        close(fd)
        fd = -1
    }
}
