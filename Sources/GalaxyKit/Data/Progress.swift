import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Progress of a long loop (preprocessing, an epoch of training): on a terminal a bar redrawn in
/// place with count, rate and ETA; otherwise (a log file, CI) plain lines at every 10% and at
/// least every 30 s. Thread-safe: workers may call `advance(by:)` concurrently.
public final class ProgressReporter: @unchecked Sendable {
    public private(set) var label: String
    public private(set) var total: Int
    public private(set) var done = 0
    /// True when drawing a bar in place (stderr is a terminal, unless overridden).
    public let interactive: Bool

    private let write: @Sendable (String) -> Void
    private let lock = NSLock()
    private var start = Date()
    /// When the phase's first item was done, and how many were done then: the rate is measured from there, so
    /// that one-off work before it (a training process compiling its pipelines in its first step) does not
    /// drag the rate and inflate the ETA. Nil until an item is done.
    private var rateOrigin: (time: Date, done: Int)?
    private var phaseStartDone = 0
    private var lastDraw = Date.distantPast
    private var lastPlainDecile = 0
    private var extra: String?
    private var barVisible = false
    private var lastPrintedDone = -1

    /// - Parameters:
    ///   - interactive: draw a bar in place; defaults to `isatty(stderr)`.
    ///   - write: where the text goes; defaults to stderr.
    public init(label: String, total: Int, interactive: Bool? = nil,
                write: (@Sendable (String) -> Void)? = nil) {
        self.label = label
        self.total = max(total, 0)
        self.interactive = interactive ?? (isatty(STDERR_FILENO) != 0)
        self.write = write ?? { FileHandle.standardError.write(Data($0.utf8)) }
        self.lastDraw = self.interactive ? .distantPast : start
    }

    /// Starts a new phase with the same output; `done` items of it were done before (a resumed epoch's steps),
    /// and count neither as progress nor towards the rate.
    public func reset(label: String, total: Int, done: Int = 0) {
        lock.lock(); defer { lock.unlock() }
        if barVisible { write("\n"); barVisible = false }
        self.label = label
        self.total = max(total, 0)
        self.done = done
        phaseStartDone = done
        rateOrigin = nil
        start = Date()
        lastDraw = interactive ? .distantPast : start
        lastPlainDecile = 0
        lastPrintedDone = -1
        extra = nil
    }

    /// Marks `count` more items done.
    public func advance(by count: Int = 1, extra: String? = nil) {
        record(done: nil, by: count, extra: extra, now: Date())
    }

    /// Sets the number of items done.
    public func update(done: Int, extra: String? = nil) {
        record(done: done, by: 0, extra: extra, now: Date())
    }

    /// `update(done:extra:)` at a given time (tests).
    func update(done: Int, extra: String? = nil, now: Date) {
        record(done: done, by: 0, extra: extra, now: now)
    }

    /// Sets `newDone` items done, or `count` more when it is nil, at `now`.
    private func record(done newDone: Int?, by count: Int, extra: String?, now: Date) {
        lock.lock(); defer { lock.unlock() }
        done = newDone ?? done + count
        if rateOrigin == nil && done > phaseStartDone { rateOrigin = (now, done) }
        if let extra { self.extra = extra }
        emit(force: false, now: now)
    }

    /// Prints a message on its own line without breaking the bar.
    public func note(_ message: String) {
        lock.lock(); defer { lock.unlock() }
        if barVisible { write("\r\u{1B}[K"); barVisible = false }
        write(message + "\n")
        if interactive && done > 0 { emit(force: true) }
    }

    /// Draws the final state and ends the line.
    public func finish(extra: String? = nil) {
        lock.lock(); defer { lock.unlock() }
        if let extra { self.extra = extra }
        emit(force: true)
        if barVisible { write("\n"); barVisible = false }
    }

    /// Items per second since the phase's first item was done (nil before it has run a second or done a second item).
    public var rate: Double? {
        lock.lock(); defer { lock.unlock() }
        return currentRate(Date())
    }

    private func currentRate(_ now: Date) -> Double? {
        guard let origin = rateOrigin, done > origin.done else { return nil }
        let elapsed = now.timeIntervalSince(origin.time)
        return elapsed >= Self.minimumRateSeconds ? Double(done - origin.done) / elapsed : nil
    }

    private func emit(force: Bool, now: Date = Date()) {
        if interactive {
            guard force || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
            lastDraw = now
            write("\r\u{1B}[K" + statusLine(now: now, bar: true))
            barVisible = true
        } else {
            let decile = total > 0 ? min(10, done * 10 / total) : 0
            guard force || decile > lastPlainDecile || now.timeIntervalSince(lastDraw) >= 30 else { return }
            guard done != lastPrintedDone else { return }
            lastPrintedDone = done
            lastPlainDecile = max(lastPlainDecile, decile)
            lastDraw = now
            write(statusLine(now: now, bar: false) + "\n")
        }
    }

    /// "label [#####.....] 123/456 27% 812.3/s ETA 0:01 extra"
    func statusLine(now: Date, bar: Bool) -> String {
        var parts = [label]
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        if bar {
            let width = 24
            let filled = Int(fraction * Double(width))
            parts.append("[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]")
        }
        parts.append(total > 0 ? "\(done)/\(total) \(Int(fraction * 100))%" : "\(done)")
        // A rate (and an ETA from it) only once it has run long enough to mean something (a batch counted a
        // millisecond after the start would otherwise read as millions per second), and measured from the first
        // item done, not from the start (a first training step that compiled every pipeline would otherwise
        // read as a slow rate and an ETA several times too long).
        if let rate = currentRate(now) {
            parts.append(String(format: "%.1f/s", rate))
            if total > 0 && done < total && rate > 0 { parts.append("ETA " + Self.formatDuration(Double(total - done) / rate)) }
        }
        if done >= total && total > 0 {
            parts.append("in " + Self.formatDuration(now.timeIntervalSince(start)))
        }
        if let extra { parts.append(extra) }
        return parts.joined(separator: " ")
    }

    /// The least elapsed time a rate is shown for.
    static let minimumRateSeconds = 1.0

    static func formatDuration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) }
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}
