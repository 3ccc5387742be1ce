import Foundation
import XCTest
@testable import GalaxyKit

final class DataPreprocessTests: XCTestCase {
    func testCropOffsetRoundsHalfToEvenLikeTorchvision() {
        // int(round((424 - 207) / 2.0)) = round(108.5) = 108 in Python (half to even).
        XCTAssertEqual(GalaxyPreprocessing.cropOffset(size: 424), 108)
        XCTAssertEqual(GalaxyPreprocessing.cropOffset(size: 426), 110)   // 109.5 -> 110
        XCTAssertEqual(GalaxyPreprocessing.cropOffset(size: 207), 0)
        XCTAssertEqual(GalaxyPreprocessing.cropOffset(size: 208), 0)     // 0.5 -> 0
        XCTAssertEqual(GalaxyPreprocessing.cropOffset(size: 210), 2)     // 1.5 -> 2
    }

    func testResampleCoefficientsAreTheTriangleOverSixPixels() {
        // 207 -> 69 is a 3x reduction: support 3 input pixels each side of the centre (i + 0.5) * 3.
        // PIL takes pixels int(c - 3 + 0.5) ..< int(c + 3 + 0.5) (6 taps) weighted by
        // 1 - |x + 0.5 - c| / 3: for output 10 (c = 31.5) pixels 29...34 get 1/3, 2/3, 1, 2/3, 1/3, 0,
        // normalized to [1, 2, 3, 2, 1, 0] / 9, then quantized to 22 fractional bits.
        let c = ResampleCoefficients(inSize: 207, outSize: 69)
        XCTAssertEqual(c.taps, 7)
        XCTAssertEqual(c.first[10], 29)
        XCTAssertEqual(c.count[10], 6)
        let one = Double(1 << ResampleCoefficients.precisionBits)
        XCTAssertEqual(Array(c.weights[(10 * c.taps)..<(10 * c.taps + 6)]),
                       [1.0, 2, 3, 2, 1, 0].map { Int32(($0 / 9 * one).rounded()) })
        // At the left border (c = 1.5) the window is cut to pixels 0...4 and renormalized:
        // 2/3, 1, 2/3, 1/3, 0 -> [2, 3, 2, 1, 0] / 8.
        XCTAssertEqual(c.first[0], 0)
        XCTAssertEqual(c.count[0], 5)
        XCTAssertEqual(Array(c.weights[0..<5]), [2.0, 3, 2, 1, 0].map { Int32(($0 / 8 * one).rounded()) })
        // Every output pixel's weights sum to 1 within the quantization (one unit per tap).
        for o in 0..<69 {
            let sum = c.weights[(o * c.taps)..<((o + 1) * c.taps)].reduce(0, +)
            XCTAssertLessThanOrEqual(abs(Int(sum) - (1 << 22)), c.taps)
        }
    }

    func testUniformImageStaysUniform() throws {
        let image = RGBImage(width: 240, height: 230, pixels: [UInt8](repeating: 77, count: 240 * 230 * 3))
        let out = try preprocessGalaxyImage(image, name: "uniform")
        XCTAssertEqual(out.count, 3 * 69 * 69)
        XCTAssertTrue(out.allSatisfy { $0 == 77 })
    }

    func testOutputIsChannelMajor() throws {
        var pixels = [UInt8](repeating: 0, count: 207 * 207 * 3)
        for i in 0..<(207 * 207) { pixels[3 * i] = 10; pixels[3 * i + 1] = 20; pixels[3 * i + 2] = 30 }
        let out = try preprocessGalaxyImage(RGBImage(width: 207, height: 207, pixels: pixels), name: "rgb")
        let plane = 69 * 69
        XCTAssertTrue(out[0..<plane].allSatisfy { $0 == 10 })
        XCTAssertTrue(out[plane..<(2 * plane)].allSatisfy { $0 == 20 })
        XCTAssertTrue(out[(2 * plane)...].allSatisfy { $0 == 30 })
    }

    /// The real sample against torchvision's own output (PIL decode + CenterCrop + Resize).
    func testMatchesTorchvisionCrops() throws {
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: SharedData.crops.appendingPathComponent("manifest.json"))) as! [String: Any]
        let ids = manifest["ids"] as! [String]
        XCTAssertEqual(ids.count, 16)
        var sumAbs = 0.0, maxAbs = 0.0, values = 0, levelsDiffering = 0
        for id in ids {
            let jpg = SharedData.trainingImages.appendingPathComponent("\(id).jpg")
            let ours = try preprocessGalaxyImage(contentsOf: jpg)
            let refData = try Data(contentsOf: SharedData.crops.appendingPathComponent("\(id).f32"))
            XCTAssertEqual(refData.count, 3 * 69 * 69 * 4, "\(id).f32 size")
            let ref: [Float] = refData.withUnsafeBytes { raw in
                (0..<(3 * 69 * 69)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            }
            for i in 0..<ours.count {
                if Double(ours[i]) != (Double(ref[i]) * 255).rounded() { levelsDiffering += 1 }
                let d = abs(Double(ours[i]) / 255 - Double(ref[i]))
                sumAbs += d
                maxAbs = max(maxAbs, d)
                values += 1
            }
        }
        let mean = sumAbs / Double(values)
        print(String(format: "torchvision crops (16 images): mean abs diff %.4f/255, max abs diff %.4f/255", mean * 255, maxAbs * 255))
        // Exact: the decode (libjpeg-turbo here and inside Pillow) and PIL's fixed-point resampling, reproduced,
        // give torchvision's grey level for every value of the 16 crops (a box filter is off by up to 11/255, a
        // wrong crop offset by far more; a JPEG library that rounds its IDCT otherwise would show here first).
        // The reference stores x / 255 in float32 (ToTensor: a division, or a product with float32(1/255)): within
        // 2 roundings of 2^-24 for values <= 1, so every value is within 2^-23 of ours / 255.
        XCTAssertEqual(levelsDiffering, 0, "values whose grey level differs from torchvision's")
        XCTAssertLessThanOrEqual(maxAbs, 0x1p-23)
    }

    func testGrayscaleJPEGIsExpandedToRGB() throws {
        // Encode a grey image with TurboJPEG in grayscale mode; decode must give R = G = B.
        let dir = try makeTempDir(self)
        let side = 210
        var gray = [UInt8](repeating: 0, count: side * side)
        for y in 0..<side { for x in 0..<side { gray[y * side + x] = UInt8((x + 2 * y) % 256) } }
        let bytes = try encodeGrayscaleJPEG(gray, width: side, height: side)
        let url = dir.appendingPathComponent("1.jpg")
        try Data(bytes).write(to: url)
        let image = try JPEG.decode(contentsOf: url)
        XCTAssertEqual(image.width, side)
        for i in stride(from: 0, to: side * side, by: 97) {
            XCTAssertEqual(image.pixels[3 * i], image.pixels[3 * i + 1])
            XCTAssertEqual(image.pixels[3 * i], image.pixels[3 * i + 2])
        }
        let out = try preprocessGalaxyImage(contentsOf: url)
        let plane = 69 * 69
        XCTAssertEqual(Array(out[0..<plane]), Array(out[plane..<(2 * plane)]))
        XCTAssertEqual(Array(out[0..<plane]), Array(out[(2 * plane)...]))
    }

    func testSmallImageIsAClearError() throws {
        let dir = try makeTempDir(self)
        let url = dir.appendingPathComponent("5.jpg")
        try Data(JPEG.encode(patternImage(width: 300, height: 200))).write(to: url)
        XCTAssertThrowsError(try preprocessGalaxyImage(contentsOf: url)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(url.path) && text.contains("300x200") && text.contains("207"), text)
        }
    }

    func testBadFilesAreReportedPerFileAndOthersStillDecoded() throws {
        let dir = try makeTempDir(self)
        let good = dir.appendingPathComponent("1.jpg")
        let original = try JPEG.encode(patternImage(width: 220, height: 220))
        try Data(original).write(to: good)
        let truncated = dir.appendingPathComponent("2.jpg")
        try Data(original.prefix(original.count / 2)).write(to: truncated)
        let png = dir.appendingPathComponent("3.jpg")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 64)).write(to: png)
        let garbage = dir.appendingPathComponent("4.jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 0x42, count: 200)).write(to: garbage)
        let missing = dir.appendingPathComponent("5.jpg")
        let result = preprocessImageFiles([good, truncated, png, garbage, missing], threads: 2)
        XCTAssertEqual(result.failures.map(\.index), [1, 2, 3, 4])
        XCTAssertTrue(result.failures[1].reason.contains("PNG"), result.failures[1].reason)
        XCTAssertTrue(result.failures[0].reason.contains("truncated") || result.failures[0].reason.contains("corrupt"), result.failures[0].reason)
        XCTAssertEqual(result.failures[3].path, missing.path)
        let expected = try preprocessGalaxyImage(contentsOf: good)
        XCTAssertEqual(Array(result.images[0..<expected.count]), expected)
        XCTAssertTrue(result.images[expected.count...].allSatisfy { $0 == 0 })
    }

    func testParallelEqualsSerial() throws {
        let urls = try listGalaxyImages(in: SharedData.trainingImages).prefix(12).map(\.url)
        let serial = preprocessImageFiles(urls, threads: 1)
        let parallel = preprocessImageFiles(urls, threads: 3)
        XCTAssertTrue(serial.failures.isEmpty)
        XCTAssertEqual(serial.images, parallel.images)
    }
}

/// The half-size decoding of `galaxy catalog --decode half` and PNG input.
extension DataPreprocessTests {
    /// The triangle (bilinear, antialiased) filter from its definition, in Double: output pixel o of an axis is the
    /// weighted mean of the input pixels x in [0, inSize) with weights max(0, 1 - |x + 0.5 - c| / s), where
    /// s = boxSize / 69 and c = boxStart + (o + 0.5) s; horizontal, then vertical; rounded once at the end.
    static func triangleResampleReference(_ image: RGBImage, left: Int, top: Int, inSize: (Int, Int),
                                          box: (x: (Double, Double), y: (Double, Double))) -> [UInt8] {
        let side = 69
        func weights(_ inSize: Int, _ start: Double, _ size: Double) -> [[Double]] {
            let s = size / Double(side)
            return (0..<side).map { o in
                let c = start + (Double(o) + 0.5) * s
                let w = (0..<inSize).map { max(0, 1 - abs(Double($0) + 0.5 - c) / s) }
                let sum = w.reduce(0, +)
                return w.map { $0 / sum }
            }
        }
        let wx = weights(inSize.0, box.x.0, box.x.1), wy = weights(inSize.1, box.y.0, box.y.1)
        var out = [UInt8](repeating: 0, count: 3 * side * side)
        for ch in 0..<3 {
            let across = (0..<inSize.1).map { y in
                (0..<side).map { o in
                    (0..<inSize.0).reduce(0.0) { $0 + wx[o][$1] * Double(image.pixels[((top + y) * image.width + left + $1) * 3 + ch]) }
                }
            }
            for oy in 0..<side {
                for ox in 0..<side {
                    let v = (0..<inSize.1).reduce(0.0) { $0 + wy[oy][$1] * across[$1][ox] }
                    out[ch * side * side + oy * side + ox] = UInt8(min(255, max(0, v.rounded())))
                }
            }
        }
        return out
    }

    /// The fixed-point two-pass resampling (PIL's, rounding between the passes) against the Double reference,
    /// for the full-size crop and for both half-size boxes (starting on a pixel and halfway into one). Each pass
    /// rounds to the nearest grey level: the first pass's rounding (at most 1/2) survives the second pass's
    /// weighted mean (weights summing to 1), plus the final rounding: at most 1 level apart.
    func testBoxResampleMatchesTheTriangleFilterReference() {
        var rng = SplitMix64(seed: 5)
        let image = RGBImage(width: 230, height: 221, pixels: (0..<(230 * 221 * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        let cases: [(String, ResampleCoefficients, (Double, Double))] = [
            ("full-size crop", GalaxyPreprocessing.coefficients, (0, 207)),
            ("half-size box on a pixel", GalaxyPreprocessing.halfScaleEven, (0, 103.5)),
            ("half-size box halfway into a pixel", GalaxyPreprocessing.halfScaleOdd, (0.5, 103.5)),
        ]
        for (what, c, box) in cases {
            var fast = [UInt8](repeating: 0, count: 3 * 69 * 69)
            fast.withUnsafeMutableBufferPointer { resample(image, left: 9, top: 4, horizontal: c, vertical: c, into: $0) }
            let reference = Self.triangleResampleReference(image, left: 9, top: 4, inSize: (c.inSize, c.inSize), box: (box, box))
            let worst = zip(fast, reference).map { abs(Int($0) - Int($1)) }.max()!
            XCTAssertLessThanOrEqual(worst, 1, what)
        }
        // Mixed: the box halfway into a pixel across, on a pixel down.
        var fast = [UInt8](repeating: 0, count: 3 * 69 * 69)
        fast.withUnsafeMutableBufferPointer {
            resample(image, left: 3, top: 50, horizontal: GalaxyPreprocessing.halfScaleOdd, vertical: GalaxyPreprocessing.halfScaleEven, into: $0)
        }
        let reference = Self.triangleResampleReference(image, left: 3, top: 50, inSize: (104, 104), box: ((0.5, 103.5), (0, 103.5)))
        XCTAssertLessThanOrEqual(zip(fast, reference).map { abs(Int($0) - Int($1)) }.max()!, 1)
    }

    /// A ramp that rises 0.55 grey levels per pixel across and 0.45 down, JPEG-encoded at quality 100, cropped from
    /// its full-size and its half-size decode: the crops agree on average (a box misplaced by half a source pixel
    /// would move every value by 0.13-0.17 levels). 424 wide (crop at 108, even) by 425 high (crop at 109, odd).
    func testHalfSizeCropIsTheSameBoxOnARamp() throws {
        let (w, h) = (424, 425)
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let v = UInt8(min(255, (0.55 * Double(x) + 0.45 * Double(y)) * 0.6))
                for c in 0..<3 { pixels[(y * w + x) * 3 + c] = v }
            }
        }
        let jpeg = try JPEG.encode(RGBImage(width: w, height: h, pixels: pixels), quality: 100)
        let full = try ImageDecoding.decode(jpeg, name: "ramp", scale: .full)
        let half = try ImageDecoding.decode(jpeg, name: "ramp", scale: .half)
        XCTAssertEqual([half.image.width, half.image.height, half.downscale, half.sourceWidth, half.sourceHeight], [212, 213, 2, w, h])
        var a = [UInt8](repeating: 0, count: 3 * 69 * 69), b = a
        try a.withUnsafeMutableBufferPointer { try preprocessGalaxyImage(full, name: "ramp", into: $0) }
        try b.withUnsafeMutableBufferPointer { try preprocessGalaxyImage(half, name: "ramp", into: $0) }
        let mean = zip(a, b).reduce(0.0) { $0 + Double(Int($1.1) - Int($1.0)) } / Double(a.count)
        print(String(format: "ramp: half-size crop minus full-size crop, mean %.4f grey levels", mean))
        XCTAssertLessThan(abs(mean), 0.1)
    }

    /// On the 240 real Kaggle images: the half-size crops differ from the full-size ones by less than the mean the
    /// help of `galaxy catalog` states.
    func testHalfSizeCropsStayWithinTheirDocumentedBound() throws {
        let urls = try listGalaxyImages(in: SharedData.trainingImages).map(\.url)
        let full = preprocessImageFiles(urls, decode: .full), half = preprocessImageFiles(urls, decode: .half)
        XCTAssertTrue(full.failures.isEmpty && half.failures.isEmpty)
        let diffs = zip(full.images, half.images).map { abs(Int($0) - Int($1)) }
        let mean = Double(diffs.reduce(0, +)) / Double(diffs.count)
        print(String(format: "Kaggle sample: half-size crops against full-size, mean abs %.3f grey levels, max %d", mean, diffs.max()!))
        XCTAssertGreaterThan(mean, 0)
        XCTAssertLessThan(mean, CatalogFastPath.pixelMeanBound)
    }

    /// PNGs of every color type through libpng: RGB as stored, grey expanded, a palette looked up, alpha composited
    /// onto black, 16 bits reduced to 8; a truncated one is a clear error.
    func testPNGsOfEveryColorTypeDecodeToRGB() throws {
        let rgb = patternImage(width: 5, height: 3)
        XCTAssertEqual(try PNG.decode(PNG.encode(rgb), name: "rgb"), rgb)
        let grey: [UInt8] = [0, 50, 255, 7]
        XCTAssertEqual(try PNG.decode(PNG.encode(width: 2, height: 2, colorType: 0, bitDepth: 8, rows: [[0, 50], [255, 7]]), name: "grey").pixels,
                       grey.flatMap { [$0, $0, $0] })
        let palette: [UInt8] = [10, 20, 30, 200, 100, 0]
        XCTAssertEqual(try PNG.decode(PNG.encode(width: 3, height: 1, colorType: 3, bitDepth: 8, rows: [[1, 0, 1]], before: [("PLTE", palette)]), name: "palette").pixels,
                       [200, 100, 0, 10, 20, 30, 200, 100, 0])
        XCTAssertEqual(try PNG.decode(PNG.encode(width: 2, height: 1, colorType: 6, bitDepth: 8, rows: [[90, 80, 70, 255, 90, 80, 70, 0]]), name: "rgba").pixels,
                       [90, 80, 70, 0, 0, 0])
        // 16 bits: v x 255 / 65535 rounded, as stored (no gamma): 0x8000 -> 128, 0x0081 -> 1 (0.503), 0x0080 -> 0 (0.498).
        XCTAssertEqual(try PNG.decode(PNG.encode(width: 5, height: 1, colorType: 0, bitDepth: 16, rows: [[0xFF, 0xFF, 0, 0, 0x80, 0, 0, 0x81, 0, 0x80]]),
                                      name: "16-bit").pixels,
                       [255, 0, 128, 1, 0].flatMap { [$0, $0, $0] })
        XCTAssertEqual(try PNG.decode(PNG.encode(width: 1, height: 1, colorType: 2, bitDepth: 16, rows: [[0x40, 0, 0x80, 0, 0xC0, 0]]), name: "16-bit RGB").pixels,
                       [64, 128, 191])
        let whole = PNG.encode(patternImage(width: 300, height: 300))
        XCTAssertThrowsError(try ImageDecoding.decode(Array(whole.prefix(whole.count / 2)), name: "cut.png")) { error in
            XCTAssertTrue("\(error)".hasPrefix("cut.png: corrupt or truncated PNG: "), "\(error)")
        }
    }
}

/// TurboJPEG grayscale encoding (TJPF_GRAY / TJSAMP_GRAY), only for this test.
import CTurboJPEG
func encodeGrayscaleJPEG(_ gray: [UInt8], width: Int, height: Int) throws -> [UInt8] {
    guard let handle = tjInitCompress() else { throw DataError("tjInitCompress failed") }
    defer { tjDestroy(handle) }
    var out: UnsafeMutablePointer<UInt8>? = nil
    var size: UInt = 0
    let rc = gray.withUnsafeBufferPointer { src in
        tjCompress2(handle, src.baseAddress, Int32(width), 0, Int32(height), Int32(TJPF_GRAY.rawValue),
                    &out, &size, Int32(TJSAMP_GRAY.rawValue), 90, 0)
    }
    defer { if let out { tjFree(out) } }
    guard rc == 0, let out else { throw DataError("grayscale encode failed") }
    return Array(UnsafeBufferPointer(start: out, count: Int(size)))
}
