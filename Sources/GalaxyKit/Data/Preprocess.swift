import Foundation

/// The deterministic part of the seed's preprocessing, reproduced bit for bit where the decoder allows:
/// torchvision `CenterCrop((207,207))` then `Resize((69,69))`, which on a PIL image is PIL's
/// antialiased bilinear resampling (`Image.resize(..., BILINEAR)`), then `ToTensor` layout (CHW).
/// The result stays uint8 (`ToTensor` would divide by 255); the training code scales later.
public enum GalaxyPreprocessing {
    /// Side of the square center crop taken from the source image.
    public static let cropSide = 207
    /// Side of the network input.
    public static let outputSide = GalaxyDataset.imageSide
    public static let channels = 3
    /// Bytes of one preprocessed image: 3 x 69 x 69.
    public static let imageBytes = channels * outputSide * outputSide

    /// Top-left coordinate of the center crop along one axis, as torchvision computes it:
    /// `int(round((size - crop) / 2.0))`; Python's `round` takes halves to the even neighbour
    /// (424 -> round(108.5) = 108).
    public static func cropOffset(size: Int, crop: Int = cropSide) -> Int {
        Int((Double(size - crop) / 2.0).rounded(.toNearestOrEven))
    }

    static let coefficients = ResampleCoefficients(inSize: cropSide, outSize: outputSide)

    /// The crop of an image decoded at half size (`DecodeScale.half`), along one axis whose full-size crop starts
    /// at `offset`: the same box in the half-size pixels, [offset / 2, (offset + 207) / 2), which starts on a
    /// pixel or halfway into one and is 103.5 pixels long. Returned as the first of the 104 pixels it touches
    /// and the resampling of those 104 pixels' box to 69 (the filter clamped to them, as the full-size path's
    /// is to its crop).
    static func halfScaleAxis(offset: Int) -> (origin: Int, coefficients: ResampleCoefficients) {
        (offset / 2, offset % 2 == 0 ? halfScaleEven : halfScaleOdd)
    }
    static let halfScaleEven = ResampleCoefficients(inSize: 104, outSize: outputSide, boxStart: 0, boxSize: Double(cropSide) / 2)
    static let halfScaleOdd = ResampleCoefficients(inSize: 104, outSize: outputSide, boxStart: 0.5, boxSize: Double(cropSide) / 2)
}

/// PIL's fixed-point resampling coefficients for one axis (Pillow `libImaging/Resample.c`,
/// `precompute_coeffs` + `normalize_coeffs_8bpc`) with the bilinear (triangle) filter.
///
/// For a reduction by `scale = boxSize / outSize` the triangle is stretched to a support of
/// `scale` input pixels on each side of the output pixel's center `boxStart + (i + 0.5) * scale`; the
/// input pixels whose (rounded) positions fall within the support and within [0, inSize) get weight
/// `1 - |x + 0.5 - center| / scale`, normalized to sum 1 and then quantized to 22 fractional bits.
/// The box is the whole input unless given (PIL's `resize(..., box=)`), as in the seed's crop-then-resize.
struct ResampleCoefficients: Sendable {
    static let precisionBits = 32 - 8 - 2
    let inSize: Int
    let outSize: Int
    /// Taps per output pixel (some trailing ones may be zero).
    let taps: Int
    /// First input index of each output pixel.
    let first: [Int]
    /// Number of used taps of each output pixel.
    let count: [Int]
    /// `outSize * taps` fixed-point weights.
    let weights: [Int32]

    init(inSize: Int, outSize: Int, boxStart: Double = 0, boxSize: Double? = nil) {
        precondition(inSize > 0 && outSize > 0)
        self.inSize = inSize
        self.outSize = outSize
        let scale = (boxSize ?? Double(inSize)) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = 1.0 * filterScale  // the bilinear filter's support is 1
        let taps = Int(support.rounded(.up)) * 2 + 1
        var first = [Int](repeating: 0, count: outSize)
        var count = [Int](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * taps)
        for o in 0..<outSize {
            // boxStart 0 adds nothing: the whole-input coefficients keep their bits.
            let center = boxStart + (Double(o) + 0.5) * scale
            // PIL truncates `x + 0.5` toward zero (a C cast) to round the bounds.
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), inSize)
            let ss = 1.0 / filterScale
            var w = [Double](repeating: 0, count: hi - lo)
            var sum = 0.0
            for x in lo..<hi {
                // Same operation order as PIL, so that the weights agree to the last bit.
                let t = abs((Double(x) - center + 0.5) * ss)
                let v = t < 1 ? 1 - t : 0
                w[x - lo] = v
                sum += v
            }
            for k in 0..<(hi - lo) {
                let normalized = sum != 0 ? w[k] / sum : w[k]
                let fixed = normalized * Double(1 << Self.precisionBits)
                weights[o * taps + k] = Int32(fixed < 0 ? (fixed - 0.5).rounded(.towardZero) : (fixed + 0.5).rounded(.towardZero))
            }
            first[o] = lo
            count[o] = hi - lo
        }
        self.taps = taps
        self.first = first
        self.count = count
        self.weights = weights
    }

    /// PIL's `clip8`: rounding is already in the accumulator's initial half unit.
    @inline(__always) static func clip8(_ acc: Int32) -> UInt8 {
        if acc >= Int32(255) << Int32(precisionBits) { return 255 }
        if acc <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: acc >> Int32(precisionBits))
    }
}

public struct PreprocessError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

/// Center-crops `image` to 207x207 and resizes it to 69x69 as PIL's antialiased bilinear does,
/// returning uint8 CHW (3*69*69). `name` (usually the file path) is used in error messages.
public func preprocessGalaxyImage(_ image: RGBImage, name: String) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: GalaxyPreprocessing.imageBytes)
    try out.withUnsafeMutableBufferPointer { try preprocessGalaxyImage(image, name: name, into: $0) }
    return out
}

/// As `preprocessGalaxyImage(_:name:)`, writing into `out` (at least 3*69*69 bytes).
func preprocessGalaxyImage(_ image: RGBImage, name: String, into out: UnsafeMutableBufferPointer<UInt8>) throws {
    try preprocessGalaxyImage(DecodedImage(image: image, downscale: 1, sourceWidth: image.width, sourceHeight: image.height), name: name, into: out)
}

/// The same crop of the source image from an image decoded at full or half size: at full size the seed's
/// crop and resize, bit for bit; at half size the same box resampled from the half-size pixels.
func preprocessGalaxyImage(_ decoded: DecodedImage, name: String, into out: UnsafeMutableBufferPointer<UInt8>) throws {
    let crop = GalaxyPreprocessing.cropSide
    guard decoded.sourceWidth >= crop, decoded.sourceHeight >= crop else {
        throw PreprocessError(file: name, reason: "image is \(decoded.sourceWidth)x\(decoded.sourceHeight), smaller than the \(crop)x\(crop) center crop")
    }
    precondition(out.count >= GalaxyPreprocessing.imageBytes)
    let left = GalaxyPreprocessing.cropOffset(size: decoded.sourceWidth)
    let top = GalaxyPreprocessing.cropOffset(size: decoded.sourceHeight)
    let image = decoded.image
    switch decoded.downscale {
    case 1:
        let c = GalaxyPreprocessing.coefficients
        resample(image, left: left, top: top, horizontal: c, vertical: c, into: out)
    case 2:
        let x = GalaxyPreprocessing.halfScaleAxis(offset: left), y = GalaxyPreprocessing.halfScaleAxis(offset: top)
        // ceil(w/2) >= w/4 + 104 from w = 210 on, and 207-209 fit too: the box always lies in the image.
        guard x.origin + x.coefficients.inSize <= image.width && y.origin + y.coefficients.inSize <= image.height else {
            throw PreprocessError(file: name, reason: "a half-size decode of \(decoded.sourceWidth)x\(decoded.sourceHeight) is \(image.width)x\(image.height)")
        }
        resample(image, left: x.origin, top: y.origin, horizontal: x.coefficients, vertical: y.coefficients, into: out)
    default:
        preconditionFailure("downscale \(decoded.downscale)")
    }
}

/// PIL's two-pass resampling of the `horizontal.inSize` x `vertical.inSize` pixels at (left, top) of `image`
/// to uint8 CHW, horizontal pass first, each pass rounded to uint8 as PIL does.
func resample(_ image: RGBImage, left: Int, top: Int, horizontal h: ResampleCoefficients, vertical v: ResampleCoefficients,
              into out: UnsafeMutableBufferPointer<UInt8>) {
    precondition(left >= 0 && top >= 0 && left + h.inSize <= image.width && top + v.inSize <= image.height)
    precondition(out.count >= 3 * h.outSize * v.outSize)
    let width = h.outSize
    let half = Int32(1) << Int32(ResampleCoefficients.precisionBits - 1)
    // Pass 1 (PIL resamples horizontally first): source rows x output columns x RGB, rounded to uint8.
    // Raw pointers: these loops are a third of the preprocessing time, and bounds checks double it.
    let mid = UnsafeMutablePointer<UInt8>.allocate(capacity: v.inSize * width * 3)
    defer { mid.deallocate() }
    image.pixels.withUnsafeBufferPointer { srcBuffer in
        h.weights.withUnsafeBufferPointer { wtsBuffer in
            h.first.withUnsafeBufferPointer { first in
                h.count.withUnsafeBufferPointer { count in
                    let src = srcBuffer.baseAddress!, wts = wtsBuffer.baseAddress!
                    for y in 0..<v.inSize {
                        let row = src + ((top + y) * image.width + left) * 3
                        let dst = mid + y * width * 3
                        for o in 0..<width {
                            var r = half, g = half, b = half
                            var p = row + first[o] * 3
                            let w = wts + o * h.taps
                            for k in 0..<count[o] {
                                let wk = w[k]
                                r &+= Int32(p[0]) &* wk
                                g &+= Int32(p[1]) &* wk
                                b &+= Int32(p[2]) &* wk
                                p += 3
                            }
                            dst[3 * o] = ResampleCoefficients.clip8(r)
                            dst[3 * o + 1] = ResampleCoefficients.clip8(g)
                            dst[3 * o + 2] = ResampleCoefficients.clip8(b)
                        }
                    }
                }
            }
        }
    }
    // Pass 2: vertical, writing channel-major output.
    let plane = width * v.outSize
    let dst = out.baseAddress!
    v.weights.withUnsafeBufferPointer { wtsBuffer in
        for o in 0..<v.outSize {
            let w = wtsBuffer.baseAddress! + o * v.taps
            let rows = mid + v.first[o] * width * 3
            let n = v.count[o]
            for x in 0..<width {
                var r = half, g = half, b = half
                var p = rows + 3 * x
                for k in 0..<n {
                    let wk = w[k]
                    r &+= Int32(p[0]) &* wk
                    g &+= Int32(p[1]) &* wk
                    b &+= Int32(p[2]) &* wk
                    p += width * 3
                }
                let q = o * width + x
                dst[q] = ResampleCoefficients.clip8(r)
                dst[plane + q] = ResampleCoefficients.clip8(g)
                dst[2 * plane + q] = ResampleCoefficients.clip8(b)
            }
        }
    }
}

/// Decodes and preprocesses one JPEG or PNG file (errors name the file).
public func preprocessGalaxyImage(contentsOf url: URL, decode scale: DecodeScale = .full) throws -> [UInt8] {
    let decoded = try ImageDecoding.decode(contentsOf: url, scale: scale)
    var out = [UInt8](repeating: 0, count: GalaxyPreprocessing.imageBytes)
    try out.withUnsafeMutableBufferPointer { try preprocessGalaxyImage(decoded, name: url.path, into: $0) }
    return out
}
