/// Which storage-buffer bindings a SPIR-V compute shader reads and which it writes, from the
/// `readonly` / `writeonly` qualifiers glslang turns into NonWritable / NonReadable decorations on
/// the block's members. CommandSequence uses it to put barriers only between dependent dispatches.
public struct ShaderAccess: Equatable, Sendable {
    /// Per binding index: whether the shader may read it, and whether it may write it.
    public var reads: [Int: Bool] = [:]
    public var writes: [Int: Bool] = [:]

    public func reads(_ binding: Int) -> Bool { reads[binding] ?? true }
    public func writes(_ binding: Int) -> Bool { writes[binding] ?? true }

    /// Parses the decorations of `code` (SPIR-V words). Anything it cannot follow counts as read and written.
    public init(spirv code: [UInt32]) {
        guard code.count > 5, code[0] == 0x0723_0203 else { return }
        var binding: [UInt32: Int] = [:]              // variable id -> binding
        var pointee: [UInt32: UInt32] = [:]           // pointer type id -> pointee type id
        var variableType: [UInt32: UInt32] = [:]      // variable id -> pointer type id
        var members: [UInt32: [UInt32: Set<UInt32>]] = [:]  // struct id -> member -> decorations
        var memberCount: [UInt32: Int] = [:]          // struct id -> number of members
        var variableDecorations: [UInt32: Set<UInt32>] = [:]  // NonWritable / NonReadable on a variable itself
        var i = 5
        while i < code.count {
            let count = Int(code[i] >> 16), opcode = code[i] & 0xFFFF
            guard count > 0, i + count <= code.count else { return }
            let op = code[i + 1 ..< i + count]
            switch opcode {
            case 71 where op.count >= 3 && op[op.startIndex + 1] == 33:  // OpDecorate id Binding n
                binding[op[op.startIndex]] = Int(op[op.startIndex + 2])
            case 71 where op.count >= 2:  // OpDecorate id decoration
                variableDecorations[op[op.startIndex], default: []].insert(op[op.startIndex + 1])
            case 72 where op.count >= 3:  // OpMemberDecorate struct member decoration
                members[op[op.startIndex], default: [:]][op[op.startIndex + 1], default: []].insert(op[op.startIndex + 2])
            case 30:  // OpTypeStruct result members...
                memberCount[op[op.startIndex]] = op.count - 1
            case 32 where op.count >= 3:  // OpTypePointer result storageClass type
                pointee[op[op.startIndex]] = op[op.startIndex + 2]
            case 59 where op.count >= 3:  // OpVariable resultType result storageClass
                variableType[op[op.startIndex + 1]] = op[op.startIndex]
            default: break
            }
            i += count
        }
        for (variable, b) in binding {
            guard let pointer = variableType[variable], let block = pointee[pointer], let n = memberCount[block], n > 0 else { continue }
            let decorations = (0..<UInt32(n)).map { members[block]?[$0] ?? [] }
            let own = variableDecorations[variable] ?? []
            // Several blocks may alias one binding (float and vec4 views): any of them reading or writing counts.
            reads[b] = (reads[b] ?? false) || !(own.contains(25) || decorations.allSatisfy { $0.contains(25) })   // NonReadable
            writes[b] = (writes[b] ?? false) || !(own.contains(24) || decorations.allSatisfy { $0.contains(24) })  // NonWritable
        }
    }
}
