import Foundation

/// How long galaxy waits for the device to finish one submission before it calls the device hung: a GPU
/// that stops answering (a shader that never ends, a driver fault without a reset, a compute card with no
/// watchdog) then ends the command as a lost device does (exit 69, the saved state intact) instead of
/// freezing it, and a batch job's hours with it.
///
/// The limit is generous, derived from the work: a floor of 5 minutes (room for a driver that compiles
/// its pipelines on their first use, as llvmpipe does) plus 1 s per dispatch, 10 s per billion
/// multiply-adds (0.1 GMAC/s, far below the slowest CPU driver on galaxy's shaders) and 10 s per GB the
/// dispatches read or the copies move. `GALAXY_WAIT_TIMEOUT=SECONDS` (or `15m`, `2h`) replaces it.
public struct WaitLimit: Sendable, Equatable, CustomStringConvertible {
    /// What a submission does, as far as its limit goes.
    public struct Work: Sendable, Equatable {
        public var dispatches = 0
        public var macs = 0
        public var bytes = 0
        public init(dispatches: Int = 0, macs: Int = 0, bytes: Int = 0) {
            (self.dispatches, self.macs, self.bytes) = (dispatches, macs, bytes)
        }
    }

    public static let variable = "GALAXY_WAIT_TIMEOUT"
    public static let floorSeconds = 300.0
    public static let secondsPerDispatch = 1.0
    public static let secondsPerMAC = 1e-8
    public static let secondsPerByte = 1e-8

    /// Seconds before the wait gives up.
    public let seconds: Double
    /// The work it was derived from.
    public let work: Work
    /// The GALAXY_WAIT_TIMEOUT text it came from, or nil: derived from the work.
    public let setting: String?

    /// The limit for `work`: GALAXY_WAIT_TIMEOUT's when `setting` is given (its text and seconds), else derived.
    public init(work: Work, setting: (text: String, seconds: Double)? = nil) {
        self.work = work
        self.setting = setting?.text
        seconds = setting?.seconds ?? Self.floorSeconds + Double(work.dispatches) * Self.secondsPerDispatch
            + Double(work.macs) * Self.secondsPerMAC + Double(work.bytes) * Self.secondsPerByte
    }

    /// The seconds a GALAXY_WAIT_TIMEOUT value sets: a number of seconds, or with a unit (`90s`, `15m`, `2h`), above 0.
    public static func parse(_ text: String) throws -> Double {
        guard let seconds = Interval.parse(text), seconds > 0 else {
            throw VulkanError("\(variable)=\(text): expected the seconds to wait for the device before calling it hung, a number above 0 "
                              + "(or with a unit: 90s, 15m, 2h)")
        }
        return seconds
    }

    /// The setting in `environment`, parsed; nil when absent or empty.
    static func setting(in environment: [String: String]) throws -> (text: String, seconds: Double)? {
        guard let text = environment[variable], !text.isEmpty else { return nil }
        return (text, try parse(text))
    }

    /// vkWaitForFences' timeout (UINT64_MAX, no limit, only for a setting beyond 500 years).
    var nanoseconds: UInt64 { seconds * 1e9 >= 1.6e19 ? UInt64.max : UInt64(seconds * 1e9) }

    /// "312 seconds, the limit ...; how to raise it".
    public var description: String {
        let time = seconds >= 10 ? "\(Int(seconds.rounded())) seconds" : String(format: "%g seconds", seconds)
        if let setting {
            return "\(time), the limit \(Self.variable)=\(setting) sets; if the device is only slow, raise it there"
        }
        let moved = ByteSize.describe(work.bytes)
        return "\(time), the limit galaxy derives from the submission (\(Int(Self.floorSeconds)) s, plus 1 s per dispatch, "
            + "10 s per billion multiply-adds and 10 s per GB read or copied: here \(work.dispatches) dispatches, "
            + String(format: "%.2f", Double(work.macs) / 1e9) + " billion multiply-adds, \(moved)); if the device is only slow, "
            + "raise it with \(Self.variable)=SECONDS"
    }
}
