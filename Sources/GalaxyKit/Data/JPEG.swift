import CTurboJPEG
import Foundation

/// An 8-bit RGB image, rows top to bottom, pixels interleaved (HWC).
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage: \(pixels.count) bytes for \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

public struct JPEGError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

/// Thin wrapper around libjpeg-turbo's TurboJPEG API; the only place that touches its C pointers.
public enum JPEG {
    /// Decodes a baseline or progressive JPEG into RGB. Grayscale and CMYK JPEGs are converted.
    /// `name` is used in error messages (usually the file path). `.half` decodes at half the width and height
    /// (ceil(w/2) x ceil(h/2)) in the DCT domain: libjpeg-turbo's scaled inverse DCT makes each 8x8 block 4x4,
    /// so pixel i of the result covers pixels 2i and 2i + 1 of the full-size image.
    public static func decode(_ data: [UInt8], name: String, scale: DecodeScale = .full) throws -> RGBImage {
        try decodeWithSourceSize(data, name: name, scale: scale).image
    }

    /// As `decode`, also returning the image's size in the file (twice the result's, rounded up, for `.half`).
    static func decodeWithSourceSize(_ data: [UInt8], name: String, scale: DecodeScale) throws -> (image: RGBImage, width: Int, height: Int) {
        guard data.count >= 4, data[0] == 0xFF, data[1] == 0xD8 else {
            let kind = data.starts(with: [0x89, 0x50, 0x4E, 0x47]) ? "a PNG file, not a JPEG" : "not a JPEG (no SOI marker)"
            throw JPEGError(file: name, reason: kind)
        }
        guard let handle = tjInitDecompress() else { throw JPEGError(file: name, reason: "cannot create a TurboJPEG decompressor") }
        defer { tjDestroy(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        let headerOK = data.withUnsafeBufferPointer { buf in
            tjDecompressHeader3(handle, buf.baseAddress, UInt(buf.count), &width, &height, &subsamp, &colorspace)
        }
        guard headerOK == 0 else { throw JPEGError(file: name, reason: "corrupt JPEG header: \(errorString(handle))") }
        guard width > 0, height > 0, Int(width) * Int(height) <= 1 << 28 else {
            throw JPEGError(file: name, reason: "unreasonable JPEG size \(width)x\(height)")
        }
        let source = (width: Int(width), height: Int(height))
        if scale == .half {
            // TurboJPEG picks the largest scaling factor whose result fits the size asked for: 1/2 here.
            guard halfScaleAvailable else { throw JPEGError(file: name, reason: "this libjpeg-turbo cannot decode at half size") }
            (width, height) = ((width + 1) / 2, (height + 1) / 2)
        }
        let w = Int(width), h = Int(height)
        let isCMYK = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        let channels = isCMYK ? 4 : 3
        let format = isCMYK ? TJPF_CMYK : TJPF_RGB
        var raw = [UInt8](repeating: 0, count: w * h * channels)
        let rc = data.withUnsafeBufferPointer { src in
            raw.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(handle, src.baseAddress, UInt(src.count), dst.baseAddress, width, 0, height,
                              Int32(format.rawValue), Int32(TJFLAG_ACCURATEDCT))
            }
        }
        if rc != 0 {
            // A warning (for example a truncated file that still decoded partly) is an error here:
            // a half-decoded galaxy must not enter the training set silently.
            throw JPEGError(file: name, reason: "corrupt or truncated JPEG: \(errorString(handle))")
        }
        if !isCMYK { return (RGBImage(width: w, height: h, pixels: raw), source.width, source.height) }
        // TurboJPEG returns CMYK as stored by Adobe (inverted); R = C*K/255 in that convention.
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        for i in 0..<(w * h) {
            let k = Int(raw[4 * i + 3])
            for c in 0..<3 { rgb[3 * i + c] = UInt8((Int(raw[4 * i + c]) * k + 127) / 255) }
        }
        return (RGBImage(width: w, height: h, pixels: rgb), source.width, source.height)
    }

    /// Decodes the JPEG file at `url`.
    public static func decode(contentsOf url: URL, scale: DecodeScale = .full) throws -> RGBImage {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw JPEGError(file: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try decode([UInt8](data), name: url.path, scale: scale)
    }

    /// Encodes RGB as a baseline JPEG with 4:2:0 chroma subsampling.
    public static func encode(_ image: RGBImage, quality: Int = 90) throws -> [UInt8] {
        guard let handle = tjInitCompress() else { throw JPEGError(file: "<memory>", reason: "cannot create a TurboJPEG compressor") }
        defer { tjDestroy(handle) }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let rc = image.pixels.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue),
                        &out, &size, Int32(TJSAMP_420.rawValue), Int32(quality), Int32(TJFLAG_ACCURATEDCT))
        }
        defer { if let out { tjFree(out) } }
        guard rc == 0, let out else { throw JPEGError(file: "<memory>", reason: "JPEG encoding failed: \(errorString(handle))") }
        return Array(UnsafeBufferPointer(start: out, count: Int(size)))
    }

    /// Whether the library offers the 1/2 scaling factor (every libjpeg-turbo does).
    static let halfScaleAvailable: Bool = {
        var count: Int32 = 0
        guard let factors = tjGetScalingFactors(&count) else { return false }
        return UnsafeBufferPointer(start: factors, count: Int(count)).contains { $0.num * 2 == $0.denom }
    }()

    private static func errorString(_ handle: tjhandle) -> String {
        String(cString: tjGetErrorStr2(handle))
    }
}
