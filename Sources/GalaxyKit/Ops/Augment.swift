import Foundation

/// How cached images become network input (augment.comp).
public enum AugmentMode: Sendable, Equatable {
    /// No augmentation (evaluation, prediction).
    case none
    /// Random h-flip, rotation in [0,360) and v-flip, keyed by (seed, epoch, image index).
    case random(seed: UInt32, epoch: UInt32)
    /// One of the 8 dihedral views (h-flip if view & 4, then rotation by 90 * (view & 3) degrees).
    case view(Int)

    var push: (mode: UInt32, seed: UInt32, epoch: UInt32, view: UInt32) {
        switch self {
        case .none: return (0, 0, 0, 0)
        case .random(let s, let e): return (1, s, e, 0)
        case .view(let v): return (2, 0, 0, UInt32(v & 7))
        }
    }
}

public enum Augment {
    public static let mean: [Float] = [0.485, 0.456, 0.406]
    public static let std: [Float] = [0.229, 0.224, 0.225]
    public static let angleSteps = 65536

    /// The shader's constant table: [0,768) the normalized value of each byte per channel, computed in
    /// float32 exactly as torchvision does (ToTensor: v/255, Normalize: (x - mean) / std); then cos and
    /// sin of angleSteps angles in [0, 2pi), rounded to 15 decimals like PIL's rotate (so 90 degrees is exact).
    public static let table: [Float] = {
        var t = [Float]()
        t.reserveCapacity(768 + 2 * angleSteps)
        for c in 0..<3 { for v in 0..<256 { t.append((Float(v) / 255 - mean[c]) / std[c]) } }
        for k in 0..<angleSteps {
            // PIL rotates by -angle in its inverse map; the sign convention is folded into the shader's formula.
            let a = Double(k) * 2 * Double.pi / Double(angleSteps)
            t.append(Float((cos(a) * 1e15).rounded() / 1e15))
            t.append(Float((sin(a) * 1e15).rounded() / 1e15))
        }
        return t
    }()

    /// Wellons' lowbias32, as in Shaders/random.glsl.
    @inline(__always)
    static func hash32(_ v: UInt32) -> UInt32 {
        var x = v
        x ^= x >> 16; x = x &* 0x7feb_352d
        x ^= x >> 15; x = x &* 0x846c_a68b
        x ^= x >> 16
        return x
    }

    static func key(seed: UInt32, epoch: UInt32, image: UInt32) -> UInt32 {
        hash32(hash32(hash32(seed) ^ epoch) ^ image)
    }

    /// (hflip, angle in 65536ths of a turn, vflip) for one image.
    static func parameters(_ mode: AugmentMode, image: UInt32) -> (hflip: Bool, angle: Int, vflip: Bool) {
        switch mode {
        case .none: return (false, 0, false)
        case .view(let v): return (v & 4 != 0, (v & 3) * 16384, false)
        case .random(let seed, let epoch):
            let k = key(seed: seed, epoch: epoch, image: image)
            return (hash32(k ^ 0x68e3_1da4) & 1 != 0, Int(hash32(k ^ 0xb529_7a4d) >> 16), hash32(k ^ 0x1b56_c4e9) & 1 != 0)
        }
    }
}

extension Reference {
    /// CPU reference of augment.comp: `images` holds uint8 CHW images of side x side; `indices` picks
    /// the batch (and keys the augmentation); row b's bytes are image `positions[b]` of `images` (default:
    /// `indices[b]`). Returns [batch, 3, side, side] floats. Same float32 operations as the shader, so equal.
    public static func augment(images: [UInt8], side: Int, indices: [UInt32], positions: [UInt32]? = nil, mode: AugmentMode) -> [Float] {
        let plane = side * side
        let table = Augment.table
        var out = [Float](repeating: 0, count: indices.count * 3 * plane)
        let half = Float(side) * 0.5
        let last = side - 1
        for (b, image) in indices.enumerated() {
            let (hflip, angle, vflip) = Augment.parameters(mode, image: image)
            let cs = table[768 + 2 * angle], sn = table[768 + 2 * angle + 1]
            for c in 0..<3 {
                for y0 in 0..<side {
                    let y = vflip ? last - y0 : y0
                    for x in 0..<side {
                        let dx = Float(x) + 0.5 - half, dy = Float(y) + 0.5 - half
                        let sx = cs * dx - sn * dy + half, sy = sn * dx + cs * dy + half
                        var ix = Int(sx.rounded(.down)), iy = Int(sy.rounded(.down))
                        var v = table[c * 256]
                        if ix >= 0 && ix <= last && iy >= 0 && iy <= last {
                            if hflip { ix = last - ix }
                            v = table[c * 256 + Int(images[Int(positions?[b] ?? image) * 3 * plane + c * plane + iy * side + ix])]
                        }
                        out[b * 3 * plane + c * plane + y0 * side + x] = v
                    }
                }
            }
        }
        return out
    }

    /// out[b, k] = src[indices[b], k]
    public static func gatherRows(_ src: [Float], width: Int, indices: [UInt32]) -> [Float] {
        indices.flatMap { src[Int($0) * width..<(Int($0) + 1) * width] }
    }
}

struct AugmentParams { var batch: UInt32; var side: UInt32; var seed: UInt32; var epoch: UInt32; var mode: UInt32; var view: UInt32; var imagesPerWindow: UInt32; var positions: UInt32 }
struct GatherParams { var batch: UInt32; var width: UInt32 }

extension Kernels {
    /// `windows`: up to 8 image buffers or ranges of one, window w holding images [w*imagesPerWindow, ...).
    /// `indices`: the batch's data set indices, and from uint `positionsAt` on where each one's bytes are in
    /// the windows (0: at its data set index).
    public func augment(_ seq: CommandSequence, windows: [BufferRange], imagesPerWindow: Int, indices: BufferRange, positionsAt: Int = 0,
                        table: BufferRange, output: BufferRange, batch: Int, side: Int, mode: AugmentMode) throws {
        precondition(!windows.isEmpty && windows.count <= 8, "augment binds 1 to 8 image windows")
        let bound = windows + [BufferRange](repeating: windows.last!, count: 8 - windows.count)
        let m = mode.push
        let push = AugmentParams(batch: UInt32(batch), side: UInt32(side), seed: m.seed, epoch: m.epoch, mode: m.mode, view: m.view,
                                 imagesPerWindow: UInt32(imagesPerWindow), positions: UInt32(positionsAt))
        let p = try pipeline("augment", 11, AugmentParams.self)
        try seq.dispatch(p, bound + [indices, table, output], push: push, invocations: batch * 3 * side * side)
    }

    public func gatherRows(_ seq: CommandSequence, src: BufferRange, indices: BufferRange, output: BufferRange, batch: Int, width: Int) throws {
        let p = try pipeline("gather_rows", 3, GatherParams.self)
        try seq.dispatch(p, [src, indices, output], push: GatherParams(batch: UInt32(batch), width: UInt32(width)), invocations: batch * width)
    }
}
