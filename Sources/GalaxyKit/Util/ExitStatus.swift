import Foundation

/// galaxy's exit codes, one table for the commands, docs/guide-long-runs.md and a cluster's job script.
public enum ExitStatus {
    /// The command did all it was asked (train: every epoch).
    public static let finished: Int32 = 0
    /// An error (bad input, a run that cannot start): nothing was changed, or what was written is whole.
    public static let failed: Int32 = 1
    /// `train --stop-when-dead`: every output died; the best checkpoint is kept.
    public static let modelDead: Int32 = 3
    /// The device was lost or ran out of memory; the state saved before it is intact.
    public static let deviceFailed: Int32 = 69
    /// `train` (`catalog`) stopped on SIGTERM or SIGUSR1 (a scheduler's preemption) at a step (chunk) boundary, the resumable state written.
    public static let preempted: Int32 = 75
    /// `train` (`catalog`) stopped on Ctrl-C (SIGINT) at a step (chunk) boundary, the resumable state written.
    public static let interrupted: Int32 = 130

    /// The exit code of a command that failed with `error`.
    public static func of(_ error: Error) -> Int32 {
        deviceFailure(of: error) != nil ? deviceFailed : failed
    }

    /// Ends the process now with `code`, without its exit handlers: after a device stopped answering, work
    /// may still be running on it, and a driver's handlers may wait for that work forever or pull its code
    /// out from under it (llvmpipe's compiler thread crashes). The kernel reclaims what the process held.
    public static func endLeavingTheDevice(_ code: Int32) -> Never {
        fflush(stdout)
        fflush(stderr)
        _exit(code)
    }

    /// The device failure behind `error`, if it is one.
    public static func deviceFailure(of error: Error) -> DeviceFailure? {
        (error as? VulkanError)?.deviceFailure ?? (error as? TrainingError)?.deviceFailure ?? (error as? CatalogDeviceError)?.failure
    }
}

/// A wall-clock interval as a user writes it: `90` or `90s`, `15m`, `2h`; `0` for every step.
public enum Interval {
    public static func parse(_ text: String) -> TimeInterval? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count)), v >= 0, v.isFinite else { return nil }
            return v * scale
        }
        guard let v = Double(t), v >= 0, v.isFinite else { return nil }
        return v
    }

    /// When `train` writes the resumable state inside an epoch, as its recipe lines say it: "after every step"
    /// for 0, else "every 15m", "every 30s".
    public static func insideAnEpoch(_ seconds: TimeInterval) -> String {
        seconds == 0 ? "after every step" : "every " + describe(seconds)
    }

    /// An interval as `parse` reads it back: "2h", "15m", "30s", "0.25s".
    public static func describe(_ seconds: TimeInterval) -> String {
        if seconds >= 3600 && seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
        if seconds >= 60 && seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
        return String(format: "%gs", seconds)
    }
}
