import Foundation

// The messages of a TensorBoard event file that galaxy writes and reads (Protos/tensorboard.proto, the
// subset of TensorFlow's event.proto and summary.proto that scalars need), on ProtobufWire.

/// event.proto's Event: when, at which step, and either the file's format version or a summary.
public struct Tensorboard_Event: ProtobufMessage {
    public enum What: Equatable {
        case fileVersion(String)
        case summary(Tensorboard_Summary)
    }
    public var wallTime: Double = 0
    public var step: Int64 = 0
    public var what: What?

    public init() {}

    public var fileVersion: String {
        get { if case .fileVersion(let v) = what { v } else { "" } }
        set { what = .fileVersion(newValue) }
    }
    public var summary: Tensorboard_Summary {
        get { if case .summary(let s) = what { s } else { Tensorboard_Summary() } }
        set { what = .summary(newValue) }
    }

    public func write(to w: inout ProtobufWriter) {
        // proto3: a field at its default is not written; a oneof member is, whatever its value.
        if wallTime != 0 { w.double(1, wallTime) }
        if step != 0 { w.int(2, step) }
        switch what {
        case .fileVersion(let v): w.string(3, v)
        case .summary(let s): w.message(5, s)
        case nil: break
        }
    }

    public mutating func read(_ f: ProtobufField) throws {
        switch f.number {
        case 1: wallTime = try f.double
        case 2: step = try f.int
        case 3: what = .fileVersion(try f.string)
        case 5: what = .summary(try f.message())
        default: break
        }
    }
}

/// summary.proto's Summary: tagged values, here scalars only.
public struct Tensorboard_Summary: ProtobufMessage, Equatable {
    public struct Value: ProtobufMessage, Equatable {
        public var tag = ""
        /// The `value` oneof's simple_value (nil: another kind of value, which galaxy does not write).
        public var simple: Float?
        public var simpleValue: Float {
            get { simple ?? 0 }
            set { simple = newValue }
        }

        public init() {}

        public func write(to w: inout ProtobufWriter) {
            if !tag.isEmpty { w.string(1, tag) }
            if let simple { w.float(2, simple) }
        }

        public mutating func read(_ f: ProtobufField) throws {
            switch f.number {
            case 1: tag = try f.string
            case 2: simple = try f.float
            default: break
            }
        }
    }
    public var value: [Value] = []

    public init() {}

    public func write(to w: inout ProtobufWriter) { for v in value { w.message(1, v) } }

    public mutating func read(_ f: ProtobufField) throws {
        if f.number == 1 { value.append(try f.message()) }
    }
}
