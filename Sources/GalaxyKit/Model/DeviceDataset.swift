/// A data set's cached images and targets uploaded once to the device, plus the per-batch index
/// buffer: the only thing the host writes per step.
public final class DeviceDataset {
    public let count: Int
    public let side: Int
    public let targetWidth: Int
    let images: DeviceBuffer
    let windows: [BufferRange]
    let imagesPerWindow: Int
    let targets: DeviceBuffer?
    let table: DeviceBuffer

    /// `images`: count x 3 x side x side bytes (CHW per image); `targets`: count x targetWidth, or nil.
    /// `windowBytes` lowers the per-binding limit (tests use it to exercise several windows).
    public init(_ context: VulkanContext, images bytes: [UInt8], side: Int, targets: [Float]?, targetWidth: Int, windowBytes: Int? = nil) throws {
        let imageBytes = 3 * side * side
        precondition(bytes.count % imageBytes == 0)
        count = bytes.count / imageBytes
        precondition(count > 0, "empty data set")
        self.side = side
        self.targetWidth = targetWidth
        // A binding sees at most maxStorageBufferRange bytes (128 MiB on lavapipe), so the images are
        // bound as up to 8 windows of one buffer; a window starts at a multiple of 256 images so its
        // byte offset meets any minStorageBufferOffsetAlignment (256 at most) whatever the image size.
        let maxRange = min(windowBytes ?? Int.max, Int(context.limits.maxStorageBufferRange), Int(Int32.max))
        let perWindow = max(256, (maxRange / imageBytes) / 256 * 256)
        imagesPerWindow = perWindow
        precondition(perWindow * imageBytes <= Int(context.limits.maxStorageBufferRange) || count <= perWindow, "image too large for one binding")
        let windowCount = (count + perWindow - 1) / perWindow
        guard windowCount <= 8 else {
            throw GalaxyError.message("\(count) images do not fit the 8 bindings of \(perWindow) images this device allows (maxStorageBufferRange \(maxRange)); use a subset")
        }
        // Whole 4-byte words, since the shader reads uint words.
        let padded = (bytes.count + 3) / 4 * 4
        images = try DeviceBuffer(context, bytes: padded, label: "dataset images")
        try images.upload(bytes)
        let imageBuffer = images
        windows = (0..<windowCount).map { w in
            let start = w * perWindow * imageBytes
            let end = min(padded, (w + 1) * perWindow * imageBytes)
            return BufferRange(imageBuffer, offset: start, bytes: min(padded, (end + 3) / 4 * 4) - start)
        }
        if let targets {
            precondition(targets.count == count * targetWidth)
            let t = try DeviceBuffer(context, floats: targets.count, label: "dataset targets")
            try t.upload(targets)
            self.targets = t
        } else {
            self.targets = nil
        }
        table = try DeviceBuffer(context, floats: Augment.table.count, label: "augment table")
        try table.upload(Augment.table)
    }

    /// Records augment (and the target gather, when there are targets) for the batch whose dataset
    /// indices are in `indices` (a host-visible buffer of UInt32).
    public func recordBatch(_ seq: CommandSequence, kernels: Kernels, indices: DeviceBuffer, batch: Int, mode: AugmentMode,
                            input: BufferRange, target: BufferRange?) throws {
        try kernels.augment(seq, windows: windows, imagesPerWindow: imagesPerWindow, indices: indices.whole, table: table.whole,
                            output: input, batch: batch, side: side, mode: mode)
        if let target, let targets {
            try kernels.gatherRows(seq, src: targets.whole, indices: indices.whole, output: target, batch: batch, width: targetWidth)
        }
    }
}
