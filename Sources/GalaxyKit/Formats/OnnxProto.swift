import Foundation

// The messages of an ONNX model that galaxy writes (Protos/onnx.proto, the subset of ONNX's onnx.proto that
// OnnxExport uses), on ProtobufWire. onnx.proto is proto2: a field is written when it is set to something
// other than its default, an attribute's value whenever its type says it holds one.

public struct Onnx_ModelProto: ProtobufMessage {
    public var irVersion: Int64 = 0
    public var opsetImport: [Onnx_OperatorSetIdProto] = []
    public var producerName = ""
    public var docString = ""
    public var graph = Onnx_GraphProto()
    public var metadataProps: [Onnx_StringStringEntryProto] = []

    public init() {}

    public func write(to w: inout ProtobufWriter) {
        w.int(1, irVersion)
        if !producerName.isEmpty { w.string(2, producerName) }
        if !docString.isEmpty { w.string(6, docString) }
        w.message(7, graph)
        for o in opsetImport { w.message(8, o) }
        for p in metadataProps { w.message(14, p) }
    }

    public mutating func read(_ f: ProtobufField) throws {
        switch f.number {
        case 1: irVersion = try f.int
        case 2: producerName = try f.string
        case 6: docString = try f.string
        case 7: graph = try f.message()
        case 8: opsetImport.append(try f.message())
        case 14: metadataProps.append(try f.message())
        default: break
        }
    }
}

public struct Onnx_OperatorSetIdProto: ProtobufMessage {
    public var domain = ""
    public var version: Int64 = 0

    public init() {}

    public func write(to w: inout ProtobufWriter) {
        w.string(1, domain)  // "" is ONNX's default domain, written as protoc's code writes a set field
        w.int(2, version)
    }

    public mutating func read(_ f: ProtobufField) throws {
        switch f.number {
        case 1: domain = try f.string
        case 2: version = try f.int
        default: break
        }
    }
}

public struct Onnx_StringStringEntryProto: ProtobufMessage {
    public var key = ""
    public var value = ""

    public init() {}

    public func write(to w: inout ProtobufWriter) {
        w.string(1, key)
        w.string(2, value)
    }

    public mutating func read(_ f: ProtobufField) throws {
        switch f.number {
        case 1: key = try f.string
        case 2: value = try f.string
        default: break
        }
    }
}

public struct Onnx_GraphProto: ProtobufMessage {
    public var node: [Onnx_NodeProto] = []
    public var name = ""
    public var initializer: [Onnx_TensorProto] = []
    public var input: [Onnx_ValueInfoProto] = []
    public var output: [Onnx_ValueInfoProto] = []

    public init() {}

    public func write(to w: inout ProtobufWriter) {
        for n in node { w.message(1, n) }
        if !name.isEmpty { w.string(2, name) }
        for t in initializer { w.message(5, t) }
        for v in input { w.message(11, v) }
        for v in output { w.message(12, v) }
    }

    public mutating func read(_ f: ProtobufField) throws {
        switch f.number {
        case 1: node.append(try f.message())
        case 2: name = try f.string
        case 5: initializer.append(try f.message())
        case 11: input.append(try f.message())
        case 12: output.append(try f.message())
        default: break
        }
    }
}

public struct Onnx_NodeProto: ProtobufMessage {
    public var input: [String] = []
    public var output: [String] = []
    public var name = ""
    public var opType = ""
    public var attribute: [Onnx_AttributeProto] = []

    public init() {}

    public func write(to w: inout ProtobufWriter) {
        for i in input { w.string(1, i) }
        for o in output { w.string(2, o) }
        if !name.isEmpty { w.string(3, name) }
        w.string(4, opType)
        for a in attribute { w.message(5, a) }
    }

    public mutating func read(_ f: ProtobufField) throws {
        switch f.number {
        case 1: input.append(try f.string)
        case 2: output.append(try f.string)
        case 3: name = try f.string
        case 4: opType = try f.string
        case 5: attribute.append(try f.message())
        default: break
        }
    }
}

public struct Onnx_AttributeProto: ProtobufMessage {
    /// AttributeProto.AttributeType: the kinds galaxy writes.
    public enum AttributeType: Int64 {
        case undefined = 0, float = 1, int = 2, floats = 6, ints = 7
    }
    public var name = ""
    public var type = AttributeType.undefined
    public var f: Float = 0
    public var i: Int64 = 0
    public var floats: [Float] = []
    public var ints: [Int64] = []

    public init() {}

    public func write(to w: inout ProtobufWriter) {
        w.string(1, name)
        switch type {
        case .float: w.float(2, f)
        case .int: w.int(3, i)
        case .floats: for x in floats { w.float(7, x) }
        case .ints: for x in ints { w.int(8, x) }
        case .undefined: break
        }
        w.int(20, type.rawValue)
    }

    public mutating func read(_ f: ProtobufField) throws {
        switch f.number {
        case 1: name = try f.string
        case 2: self.f = try f.float
        case 3: i = try f.int
        case 7: floats.append(try f.float)
        case 8: ints += try f.ints
        case 20:
            let v = try f.int
            guard let t = AttributeType(rawValue: v) else { throw ProtobufError(reason: "attribute type \(v), which galaxy does not read") }
            type = t
        default: break
        }
    }
}

public struct Onnx_TensorProto: ProtobufMessage {
    /// TensorProto.DataType: the element types galaxy writes.
    public enum DataType: Int {
        case undefined = 0, float = 1, int64 = 7
    }
    public var dims: [Int64] = []
    public var dataType: Int32 = 0
    public var int64Data: [Int64] = []
    public var name = ""
    public var rawData = Data()

    public init() {}

    public func write(to w: inout ProtobufWriter) {
        for d in dims { w.int(1, d) }
        w.int(2, Int64(dataType))
        if !int64Data.isEmpty { w.packedInts(7, int64Data) }
        w.string(8, name)
        if !rawData.isEmpty { w.bytes(9, [UInt8](rawData)) }
    }

    public mutating func read(_ f: ProtobufField) throws {
        switch f.number {
        case 1: dims += try f.ints
        case 2: dataType = Int32(truncatingIfNeeded: try f.int)
        case 7: int64Data += try f.ints
        case 8: name = try f.string
        case 9: rawData = Data(try f.bytes)
        default: break
        }
    }
}

public struct Onnx_ValueInfoProto: ProtobufMessage {
    public var name = ""
    public var type = Onnx_TypeProto()
    public var docString = ""

    public init() {}

    public func write(to w: inout ProtobufWriter) {
        w.string(1, name)
        w.message(2, type)
        if !docString.isEmpty { w.string(3, docString) }
    }

    public mutating func read(_ f: ProtobufField) throws {
        switch f.number {
        case 1: name = try f.string
        case 2: type = try f.message()
        case 3: docString = try f.string
        default: break
        }
    }
}

/// TypeProto with its tensor_type member (the only kind galaxy's models have).
public struct Onnx_TypeProto: ProtobufMessage {
    public struct Tensor: ProtobufMessage {
        public var elemType: Int32 = 0
        public var shape = Onnx_TensorShapeProto()

        public init() {}

        public func write(to w: inout ProtobufWriter) {
            w.int(1, Int64(elemType))
            w.message(2, shape)
        }

        public mutating func read(_ f: ProtobufField) throws {
            switch f.number {
            case 1: elemType = Int32(truncatingIfNeeded: try f.int)
            case 2: shape = try f.message()
            default: break
            }
        }
    }
    public var tensorType = Tensor()

    public init() {}

    public func write(to w: inout ProtobufWriter) { w.message(1, tensorType) }

    public mutating func read(_ f: ProtobufField) throws {
        if f.number == 1 { tensorType = try f.message() }
    }
}

public struct Onnx_TensorShapeProto: ProtobufMessage {
    /// A dimension: a size, or a name for a size given at run time (the `value` oneof).
    public struct Dimension: ProtobufMessage {
        public enum Value: Equatable {
            case dimValue(Int64)
            case dimParam(String)
        }
        public var value: Value?
        public var dimValue: Int64 {
            get { if case .dimValue(let v) = value { v } else { 0 } }
            set { value = .dimValue(newValue) }
        }
        public var dimParam: String {
            get { if case .dimParam(let p) = value { p } else { "" } }
            set { value = .dimParam(newValue) }
        }

        public init() {}

        public func write(to w: inout ProtobufWriter) {
            switch value {
            case .dimValue(let v): w.int(1, v)
            case .dimParam(let p): w.string(2, p)
            case nil: break
            }
        }

        public mutating func read(_ f: ProtobufField) throws {
            switch f.number {
            case 1: value = .dimValue(try f.int)
            case 2: value = .dimParam(try f.string)
            default: break
            }
        }
    }
    public var dim: [Dimension] = []

    public init() {}

    public func write(to w: inout ProtobufWriter) { for d in dim { w.message(1, d) } }

    public mutating func read(_ f: ProtobufField) throws {
        if f.number == 1 { dim.append(try f.message()) }
    }
}
