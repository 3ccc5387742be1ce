import CPNG
import Foundation

/// The size at which a JPEG is decoded before the crop and resize.
public enum DecodeScale: String, Sendable, CaseIterable {
    /// Every pixel, as the seed's preprocessing (bit for bit with torchvision's crops).
    case full
    /// Half the width and height, in the DCT domain (libjpeg-turbo's scaled IDCT): the opt-in fast path of
    /// `galaxy catalog --decode half`. PNGs have no DCT and are always read at full size.
    case half
}

/// An image as decoded, with what the crop needs to know about the file it came from.
public struct DecodedImage: Sendable {
    public var image: RGBImage
    /// Source pixels per pixel of `image` along each axis: 1, or 2 for a JPEG decoded at half size.
    public var downscale: Int
    /// The size of the image in the file.
    public var sourceWidth: Int
    public var sourceHeight: Int
}

/// A file that is neither a JPEG nor a PNG, or a PNG that does not decode.
public struct ImageDecodeError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

/// JPEG or PNG by the file's first bytes (not its name), into RGB.
public enum ImageDecoding {
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public static func decode(_ data: [UInt8], name: String, scale: DecodeScale = .full) throws -> DecodedImage {
        if data.starts(with: pngSignature) {
            let image = try PNG.decode(data, name: name)
            return DecodedImage(image: image, downscale: 1, sourceWidth: image.width, sourceHeight: image.height)
        }
        guard data.starts(with: [0xFF, 0xD8]) else {
            throw ImageDecodeError(file: name, reason: data.isEmpty ? "empty file, not a JPEG or PNG" : "not a JPEG or PNG (neither signature at its start)")
        }
        let (image, width, height) = try JPEG.decodeWithSourceSize(data, name: name, scale: scale)
        return DecodedImage(image: image, downscale: scale == .half ? 2 : 1, sourceWidth: width, sourceHeight: height)
    }

    public static func decode(contentsOf url: URL, scale: DecodeScale = .full) throws -> DecodedImage {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ImageDecodeError(file: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try decode([UInt8](data), name: url.path, scale: scale)
    }
}

extension PNG {
    /// Decodes a PNG of any color type, bit depth and interlacing into 8-bit RGB with libpng's simplified
    /// reader: grey is expanded, a palette looked up, an alpha channel composited onto black (the sky), 16-bit
    /// samples scaled to 8 bits (v x 255 / 65535, rounded). A gAMA or sRGB chunk makes libpng convert the samples
    /// to sRGB (PIL, the seed's reader, ignores both); files without one are read as stored. `name` is used in
    /// error messages.
    public static func decode(_ data: [UInt8], name: String) throws -> RGBImage {
        var control = png_image()
        defer { galaxy_png_free(&control) }
        let begun = data.withUnsafeBufferPointer { galaxy_png_begin(&control, $0.baseAddress, $0.count) }
        guard begun != 0 else { throw ImageDecodeError(file: name, reason: "corrupt PNG: \(message(control))") }
        let w = Int(control.width), h = Int(control.height)
        guard w > 0, h > 0, w * h <= 1 << 28 else {
            throw ImageDecodeError(file: name, reason: "unreasonable PNG size \(w)x\(h)")
        }
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        let finished: Int32
        if galaxy_png_is_16bit(&control) != 0 {
            var wide = [UInt16](repeating: 0, count: w * h * 3)
            finished = wide.withUnsafeMutableBytes { galaxy_png_finish_rgb16(&control, $0.baseAddress) }
            for i in wide.indices { pixels[i] = UInt8((UInt32(wide[i]) * 255 + 32767) / 65535) }
        } else {
            finished = pixels.withUnsafeMutableBytes { galaxy_png_finish_rgb(&control, $0.baseAddress) }
        }
        guard finished != 0 else { throw ImageDecodeError(file: name, reason: "corrupt or truncated PNG: \(message(control))") }
        return RGBImage(width: w, height: h, pixels: pixels)
    }

    private static func message(_ control: png_image) -> String {
        withUnsafeBytes(of: control.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
