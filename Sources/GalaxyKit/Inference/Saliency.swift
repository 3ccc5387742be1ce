import Foundation

/// Saliency maps on the device: the gradient of one answer with respect to the network's input pixels,
/// through the backward shaders down to conv1's input gradient (which training never computes).
public final class SaliencyMapper {
    public let context: VulkanContext
    public let network: DeviceNetwork
    public let columns: [String]
    /// The checkpoint's tree, if any: the default answer is its first question's top answer.
    public let tree: AnswerSchema?

    /// One image's result: the outputs, the answer explained and its gradient [3, 69, 69] in the network's
    /// input layout (CHW) and scale (the normalized floats the network sees, (v/255 - mean) / std).
    public struct Explanation: Sendable {
        public var outputs: [Float]
        public var answer: Int
        public var gradient: [Float]
    }

    /// `tree`: the checkpoint's schema (default: the built-in one whose columns `columns` are, if any).
    public init(context: VulkanContext, weights: ModelWeights, columns: [String], maxBatch: Int, outputMode: OutputMode = .relu,
                tree: AnswerSchema? = nil, path: KernelPath? = nil) throws {
        precondition(columns.count == weights.outputs)
        self.context = context
        self.columns = columns
        self.tree = AnswerSchema.implied(outputs: columns.count, columns: columns, recorded: tree)
        network = try DeviceNetwork(kernels: Kernels(context, path: path), outputs: weights.outputs, maxBatch: maxBatch, training: false,
                                    outputMode: outputMode, saliency: true, tree: self.tree)
        try network.setWeights(weights)
    }

    /// The column an answer name (`Class4.1`) or 1-based output number names.
    public func column(named name: String) throws -> Int {
        if let c = columns.firstIndex(of: name) { return c }
        throw GalaxyError.message("no answer \"\(name)\" among the checkpoint's columns (\(columns.prefix(4).joined(separator: ", "))...)")
    }

    /// The answer explained by default: the predicted top answer of the tree's first question (of all columns without a tree).
    public func defaultAnswer(_ outputs: [Float]) -> Int {
        let range = tree?.questionRanges[0] ?? 0..<columns.count
        var best = range.lowerBound
        for c in range where outputs[c] > outputs[best] { best = c }
        return best
    }

    /// Explains each of `images` (count x 3x69x69 bytes, at most maxBatch): `answers[i]` or, where nil,
    /// the default answer of image i.
    public func explain(images: [UInt8], answers: [Int?]) throws -> [Explanation] {
        let n = images.count / GalaxyDataset.imageBytes, k = network.outputs
        precondition(n >= 1 && n <= network.maxBatch && answers.count == n)
        let x = Reference.augment(images: images, side: GalaxyDataset.imageSide, indices: (0..<n).map(UInt32.init), mode: .none)
        try network.input.upload(x)
        let forward = try CommandSequence(context)
        try network.recordForward(forward, batch: n)
        try forward.submit()
        let outputs: [Float] = try network.output.download(count: n * k)
        let chosen = (0..<n).map { i in answers[i] ?? defaultAnswer(Array(outputs[i * k..<(i + 1) * k])) }
        var seed = [Float](repeating: 0, count: n * k)
        for (i, c) in chosen.enumerated() { seed[i * k + c] = 1 }
        try network.target.upload(seed)
        let backward = try CommandSequence(context)
        try network.recordSaliency(backward, batch: n)
        try backward.submit()
        let g: [Float] = try network.inputGradient.download(count: n * SanderDielemanNet.inputCount)
        let m = SanderDielemanNet.inputCount
        return (0..<n).map { i in
            Explanation(outputs: Array(outputs[i * k..<(i + 1) * k]), answer: chosen[i], gradient: Array(g[i * m..<(i + 1) * m]))
        }
    }
}

/// Pictures of a saliency map: the gradient's magnitude (the largest |gradient| over the three channels
/// of a pixel, divided by the image's largest) as a heat overlay on the 69x69 crop.
public enum SaliencyPicture {
    /// Per pixel max over channels of |gradient|, scaled so the largest is 1 (all 0 for a zero gradient).
    public static func magnitude(_ gradient: [Float], side: Int = GalaxyDataset.imageSide) -> [Float] {
        let plane = side * side
        var m = (0..<plane).map { p in max(abs(gradient[p]), abs(gradient[plane + p]), abs(gradient[2 * plane + p])) }
        let top = m.max() ?? 0
        if top > 0 { m = m.map { $0 / top } }
        return m
    }

    /// The crop (uint8 CHW) enlarged `zoom` times, with the heat (black-red-yellow-white) blended over it
    /// in proportion to the magnitude.
    public static func render(crop: [UInt8], gradient: [Float], zoom: Int = 4) -> RGBImage {
        let side = GalaxyDataset.imageSide, plane = side * side, big = side * zoom
        let m = magnitude(gradient)
        var pixels = [UInt8](repeating: 0, count: big * big * 3)
        for y in 0..<big {
            for x in 0..<big {
                let p = (y / zoom) * side + x / zoom
                let v = m[p], heat = [min(1, 3 * v), min(1, max(0, 3 * v - 1)), min(1, max(0, 3 * v - 2))]
                let a = min(1, 0.25 + 0.75 * v) * (v > 0 ? 1 : 0)
                for c in 0..<3 {
                    let base = Float(crop[c * plane + p]) / 255
                    pixels[(y * big + x) * 3 + c] = UInt8(max(0, min(255, ((1 - a) * base + a * heat[c]) * 255).rounded()))
                }
            }
        }
        return RGBImage(width: big, height: big, pixels: pixels)
    }

    /// The crop alone (uint8 CHW) as RGB, enlarged `zoom` times.
    public static func crop(_ crop: [UInt8], zoom: Int = 1) -> RGBImage {
        let side = GalaxyDataset.imageSide, plane = side * side, big = side * zoom
        var pixels = [UInt8](repeating: 0, count: big * big * 3)
        for y in 0..<big {
            for x in 0..<big {
                for c in 0..<3 { pixels[(y * big + x) * 3 + c] = crop[c * plane + (y / zoom) * side + x / zoom] }
            }
        }
        return RGBImage(width: big, height: big, pixels: pixels)
    }
}

/// A minimal PNG writer: 8-bit RGB, the image data in stored (uncompressed) deflate blocks, so no
/// compression library is needed; every reader decodes it. (Reading is `PNG.decode`, through libpng.)
public enum PNG {
    public static func encode(_ image: RGBImage) -> [UInt8] {
        encode(width: image.width, height: image.height, colorType: 2, bitDepth: 8,
               rows: (0..<image.height).map { Array(image.pixels[($0 * image.width * 3)..<(($0 + 1) * image.width * 3)]) })
    }

    /// A PNG of any color type and bit depth from its rows' bytes (unfiltered); `before` holds chunks that go
    /// before the image data (a palette: `("PLTE", bytes)`).
    static func encode(width: Int, height: Int, colorType: UInt8, bitDepth: UInt8, rows: [[UInt8]], before: [(String, [UInt8])] = []) -> [UInt8] {
        var raw = [UInt8]()
        raw.reserveCapacity(rows.reduce(0) { $0 + 1 + $1.count })
        for row in rows {
            raw.append(0)  // filter: none
            raw += row
        }
        // zlib stream: header, stored blocks of at most 65535 bytes, Adler-32 of the raw data.
        var z: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65535, raw.count - offset)
            z.append(offset + n == raw.count ? 1 : 0)
            z += [UInt8(n & 0xff), UInt8(n >> 8), UInt8(~n & 0xff), UInt8((~n >> 8) & 0xff)]
            z += raw[offset..<(offset + n)]
            offset += n
        } while offset < raw.count
        var (a, b): (UInt32, UInt32) = (1, 0)
        for v in raw { a = (a + UInt32(v)) % 65521; b = (b + a) % 65521 }
        z += bigEndian(b << 16 | a)
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        out += chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [bitDepth, colorType, 0, 0, 0])
        for (type, data) in before { out += chunk(type, data) }
        out += chunk("IDAT", z)
        out += chunk("IEND", [])
        return out
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }

    private static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for v in bytes { c = crcTable[Int((c ^ UInt32(v)) & 0xff)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
