import Foundation

/// The seed's first figure: originals beside their cropped, resized, randomly flipped and rotated
/// versions (as the network sees them in training), to check the preprocessing by eye.
public enum Preview {
    /// One row per image: the 424x424 original, then the 69x69 network input enlarged `zoom` times.
    public static func render(files: [URL], seed: UInt32, zoom: Int = 6) throws -> RGBImage {
        let rows = try files.enumerated().map { i, url -> (RGBImage, [UInt8]) in
            let image = try JPEG.decode(contentsOf: url)
            let cropped = try preprocessGalaxyImage(image, name: url.path)
            let side = GalaxyDataset.imageSide
            let augmented = Reference.augment(images: cropped, side: side, indices: [0], mode: .random(seed: seed, epoch: UInt32(i)))
            // Back from the normalized floats to bytes for display.
            let bytes = augmented.enumerated().map { j, v -> UInt8 in
                let c = j / (side * side)
                return UInt8(max(0, min(255, ((v * Augment.std[c] + Augment.mean[c]) * 255).rounded())))
            }
            return (image, bytes)
        }
        let side = GalaxyDataset.imageSide, big = side * zoom, gap = 8
        let cell = max(rows.map { $0.0.height }.max() ?? 0, big)
        let width = (rows.map { $0.0.width }.max() ?? 0) + gap + big
        let height = rows.count * cell + max(0, rows.count - 1) * gap
        var canvas = [UInt8](repeating: 40, count: width * height * 3)
        for (r, (original, small)) in rows.enumerated() {
            let top = r * (cell + gap)
            for y in 0..<original.height {
                for x in 0..<original.width {
                    for c in 0..<3 { canvas[((top + y) * width + x) * 3 + c] = original.pixels[(y * original.width + x) * 3 + c] }
                }
            }
            let left = width - big
            for y in 0..<big {
                for x in 0..<big {
                    for c in 0..<3 { canvas[((top + y) * width + left + x) * 3 + c] = small[c * side * side + (y / zoom) * side + x / zoom] }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: canvas)
    }
}
