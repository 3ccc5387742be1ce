import Foundation

public struct TensorBoardLogError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

/// A run directory's TensorBoard event file: TFRecord-framed `Event` messages (tensorboard.proto), the
/// first naming the format version, each later one a `Summary` of scalars at one step. Appended as
/// the run goes; `tensorboard --logdir` reads it while it grows.
///
/// The file is named `events.out.tfevents.<seconds>.<host>.galaxy`; the suffix marks it as galaxy's own,
/// so a new run in the directory can replace it and a resumed run can find it.
public final class TensorBoardLog {
    public static let fileVersion = "brain.Event:2"
    static let prefix = "events.out.tfevents."
    static let suffix = ".galaxy"

    public let url: URL
    private let handle: FileHandle

    private init(url: URL) throws {
        self.url = url
        do { handle = try FileHandle(forWritingTo: url) } catch {
            throw TensorBoardLogError(file: url.path, reason: "cannot open for appending: \(error.localizedDescription)")
        }
        handle.seekToEndOfFile()
    }

    deinit { try? handle.close() }

    /// galaxy's event files in `dir`, oldest name first.
    public static func files(in dir: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }.sorted().map { dir.appendingPathComponent($0) }
    }

    /// Starts the event file of a new run in `dir`, replacing the files of an earlier run there.
    public static func create(in dir: URL, now: Date = Date()) throws -> TensorBoardLog {
        for old in files(in: dir) { try? FileManager.default.removeItem(at: old) }
        let url = dir.appendingPathComponent(fileName(now))
        try AtomicFile.write(Data(TFRecord.frame(header(now))), to: url)
        return try TensorBoardLog(url: url)
    }

    /// Continues the event file of the run in `dir` from a checkpoint taken at step `position`.
    /// Records after `position` were written by the run after its checkpoint, before it was killed:
    /// the resumed run writes those steps again, so they are dropped (and so is a record cut short).
    /// `required` are the summaries the checkpoint has seen (each epoch's, from its state); any of them
    /// the file lacks (a kill between the checkpoint and the event file's append, or a run from before
    /// event files) is added, identified by `key`, a tag every one of them holds. The file is rewritten
    /// (atomically) only when something changes; a reader sees every step of a tag once.
    public static func resume(in dir: URL, position: Int64, required: [(step: Int64, scalars: [(tag: String, value: Float)])], key: String,
                              now: Date = Date()) throws -> TensorBoardLog {
        let existing = files(in: dir)
        var kept: [Tensorboard_Event] = []
        var changed = existing.count != 1
        for url in existing {
            let bytes: [UInt8]
            do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
                throw TensorBoardLogError(file: url.path, reason: "cannot read: \(error.localizedDescription)")
            }
            let (records, intactEnd) = TFRecord.records(bytes)
            if intactEnd != bytes.count { changed = true }
            for record in records {
                guard let event = try? Tensorboard_Event(serializedBytes: record.data) else { changed = true; break }
                if case .fileVersion = event.what { continue }
                if event.step > position { changed = true; continue }
                kept.append(event)
            }
        }
        let present = Set(kept.filter { $0.summary.value.contains { $0.tag == key } }.map(\.step))
        for summary in required where !present.contains(summary.step) {
            kept.append(event(step: summary.step, scalars: summary.scalars, wallTime: now))
            changed = true
        }
        if !changed { return try TensorBoardLog(url: existing[0]) }  // one intact file, nothing to drop or add
        let url = existing.last ?? dir.appendingPathComponent(fileName(now))
        // Steps in order (a reader of one tag sees them ascending), the records' own order kept within a step.
        let ordered = kept.enumerated().sorted { ($0.element.step, $0.offset) < ($1.element.step, $1.offset) }.map(\.element)
        var bytes = TFRecord.frame(header(now))
        for event in ordered { bytes += TFRecord.frame(event.serializedBytes()) }
        try AtomicFile.write(Data(bytes), to: url)
        for old in existing where old != url { try? FileManager.default.removeItem(at: old) }
        return try TensorBoardLog(url: url)
    }

    /// Appends one `Summary` of scalars at `step`.
    public func append(step: Int64, scalars: [(tag: String, value: Float)], wallTime: Date = Date()) throws {
        let bytes = TFRecord.frame(Self.event(step: step, scalars: scalars, wallTime: wallTime).serializedBytes())
        do { try handle.write(contentsOf: Data(bytes)) } catch {
            throw TensorBoardLogError(file: url.path, reason: "cannot append: \(error.localizedDescription)")
        }
    }

    static func fileName(_ now: Date) -> String {
        let host = ProcessInfo.processInfo.hostName.replacingOccurrences(of: "/", with: "_")
        return "\(prefix)\(Int(now.timeIntervalSince1970)).\(host)\(suffix)"
    }

    static func header(_ now: Date) -> [UInt8] {
        var event = Tensorboard_Event()
        event.wallTime = now.timeIntervalSince1970
        event.fileVersion = fileVersion
        return event.serializedBytes()
    }

    static func event(step: Int64, scalars: [(tag: String, value: Float)], wallTime: Date) -> Tensorboard_Event {
        var event = Tensorboard_Event()
        event.wallTime = wallTime.timeIntervalSince1970
        event.step = step
        event.summary = Tensorboard_Summary.with { summary in
            summary.value = scalars.map { tag, value in Tensorboard_Summary.Value.with { $0.tag = tag; $0.simpleValue = value } }
        }
        return event
    }

    /// The events of an event file, for tests and tools: every intact record decoded.
    public static func read(_ url: URL) throws -> (versions: [String], scalars: [(step: Int64, tag: String, value: Float)], intact: Bool) {
        let bytes = [UInt8](try Data(contentsOf: url))
        let (records, intactEnd) = TFRecord.records(bytes)
        var versions: [String] = [], scalars: [(step: Int64, tag: String, value: Float)] = []
        for record in records {
            let event = try Tensorboard_Event(serializedBytes: record.data)
            if case .fileVersion(let v) = event.what { versions.append(v) }
            for value in event.summary.value { scalars.append((event.step, value.tag, value.simpleValue)) }
        }
        return (versions, scalars, intactEnd == bytes.count)
    }
}
