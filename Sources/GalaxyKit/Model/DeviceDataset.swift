import Foundation

/// A data set's cached images and targets on the device, and the batch index buffers: the only thing
/// the host writes per step. The images are either resident (uploaded once) or, when they exceed the
/// device memory given to them, streamed: two slots take turns holding the images of a chunk of steps,
/// the next chunk brought in while the device runs the current one (`BatchFeeder`).
public final class DeviceDataset {
    public let count: Int
    public let side: Int
    public let targetWidth: Int
    let windows: [BufferRange]
    let imagesPerWindow: Int
    let targets: DeviceBuffer?
    let table: DeviceBuffer
    let context: VulkanContext

    public enum Residency: Equatable, Sendable {
        case resident
        /// Two slots of `slotImages` images each.
        case streamed(slotImages: Int)
    }
    public let residency: Residency
    /// Streamed: the host's copy of every image, the two slots, and (when the slots are not mapped) a
    /// staging buffer and its recorded copy per slot.
    let hostImages: [UInt8]
    let slots: [DeviceBuffer]
    let staging: [DeviceBuffer]
    let slotCopies: [CommandSequence]

    /// Bytes of device memory the images take.
    public var imageDeviceBytes: Int { residency == .resident ? windows.first!.buffer.size : slots.reduce(0) { $0 + $1.size } }

    /// Images stream when they need more than this many bytes and no budget is given: half the largest
    /// device-local heap (the network, its activations and the driver share the rest).
    public static func defaultBudget(_ context: VulkanContext) -> Int { context.largestDeviceLocalHeap / 2 }
    /// The largest streaming slot: a chunk moves through staging buffers of at most this size.
    public static let maxSlotBytes = VulkanContext.stagingChunk

    /// `images`: count x 3 x side x side bytes (CHW per image); `targets`: count x targetWidth, or nil.
    /// `windowBytes` lowers the per-binding limit (tests use it to exercise several windows).
    /// `budget`: device memory for the images (nil: `defaultBudget`); above it, or beyond 8 bindings,
    /// they stream through two slots of whole batches of `batch` images.
    public init(_ context: VulkanContext, images bytes: [UInt8], side: Int, targets: [Float]?, targetWidth: Int, windowBytes: Int? = nil,
                budget: Int? = nil, batch: Int = 128) throws {
        self.context = context
        let imageBytes = 3 * side * side
        precondition(bytes.count % imageBytes == 0)
        count = bytes.count / imageBytes
        precondition(count > 0, "empty data set")
        self.side = side
        self.targetWidth = targetWidth
        // A binding sees at most maxStorageBufferRange bytes (128 MiB on lavapipe), so resident images are
        // bound as up to 8 windows of one buffer; a window starts at a multiple of 256 images so its
        // byte offset is a multiple of VulkanContext.bindingAlignment (256 bytes) whatever the image size.
        let maxRange = min(windowBytes ?? Int.max, Int(context.limits.maxStorageBufferRange), Int(Int32.max))
        let perWindow = max(256, (maxRange / imageBytes) / 256 * 256)
        if perWindow * imageBytes > Int(context.limits.maxStorageBufferRange) && count > perWindow {
            throw GalaxyError.message("256 images of \(side)x\(side) (\(ByteSize.describe(256 * imageBytes))) are more than one binding holds on "
                                      + "\(context.info.name) (maxStorageBufferRange \(ByteSize.describe(Int(context.limits.maxStorageBufferRange))))")
        }
        let windowCount = (count + perWindow - 1) / perWindow
        // Whole 4-byte words, since the shader reads uint words.
        let padded = (bytes.count + 3) / 4 * 4
        let budget = budget ?? Self.defaultBudget(context)
        // Resident images are one buffer: they stream when one allocation cannot hold them either.
        if padded <= budget && windowCount <= 8 && padded <= context.largestAllocation(for: .device) {
            residency = .resident
            imagesPerWindow = perWindow
            let images = try DeviceBuffer(context, bytes: padded, label: "dataset images")
            try images.upload(bytes)
            windows = (0..<windowCount).map { w in
                let start = w * perWindow * imageBytes
                let end = min(padded, (w + 1) * perWindow * imageBytes)
                return BufferRange(images, offset: start, bytes: min(padded, (end + 3) / 4 * 4) - start)
            }
            (hostImages, slots, staging, slotCopies) = ([], [], [], [])
        } else {
            let batchBytes = batch * imageBytes
            let slotBytes = min(budget / 2, Self.maxSlotBytes, maxRange) / batchBytes * batchBytes
            guard slotBytes > 0 else {
                throw GalaxyError.message("the device memory for the data set's images (\(ByteSize.describe(budget))) holds fewer than two batches of "
                                          + "\(batch) images (\(ByteSize.describe(2 * batchBytes))), which streaming needs: raise --device-memory or lower --batch")
            }
            let slotImages = slotBytes / imageBytes
            residency = .streamed(slotImages: slotImages)
            imagesPerWindow = slotImages
            hostImages = bytes
            // Whole words: the shader reads the last image's last bytes through a uint.
            let slots = try (0..<2).map { try DeviceBuffer(context, bytes: (slotBytes + 3) / 4 * 4, label: "dataset stream slot \($0)") }
            self.slots = slots
            windows = slots.map(\.whole)
            if slots.allSatisfy(\.isMapped) {
                (staging, slotCopies) = ([], [])
            } else {
                let staging = try (0..<2).map { try DeviceBuffer(context, bytes: slots[$0].size, label: "dataset stream staging \($0)", role: .upload) }
                self.staging = staging
                slotCopies = try (0..<2).map { i in
                    let seq = try CommandSequence(context)
                    seq.copy(staging[i].whole, to: slots[i].whole)
                    return seq
                }
            }
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
    /// indices are in `indices` (a host-visible buffer of UInt32), with where their bytes are from uint
    /// `positionsAt` on (0: at their data set index, the resident layout).
    public func recordBatch(_ seq: CommandSequence, kernels: Kernels, indices: DeviceBuffer, positionsAt: Int = 0, batch: Int, mode: AugmentMode,
                            input: BufferRange, target: BufferRange?) throws {
        precondition(residency == .resident || positionsAt > 0, "a streamed data set needs the batch's positions in its slots")
        try kernels.augment(seq, windows: windows, imagesPerWindow: imagesPerWindow, indices: indices.whole, positionsAt: positionsAt, table: table.whole,
                            output: input, batch: batch, side: side, mode: mode)
        if let target, let targets {
            try kernels.gatherRows(seq, src: targets.whole, indices: indices.whole, output: target, batch: batch, width: targetWidth)
        }
    }

    /// Copies the images `rows` into slot `slot` (the steps that read it before must have finished).
    /// Mapped slots are written directly; otherwise the bytes go to the slot's staging buffer and a
    /// copy is launched, which the queue runs before any step launched after it.
    /// `images`: each data set row and its place in the slot.
    func fill(slot: Int, images: [(row: Int, place: Int)]) throws {
        guard case .streamed(let capacity) = residency else { preconditionFailure("fill on resident data") }
        precondition(images.allSatisfy { $0.place < capacity })
        let imageBytes = 3 * side * side
        let target = staging.isEmpty ? slots[slot] : staging[slot]
        if !slotCopies.isEmpty { try slotCopies[slot].wait() }  // the staging buffer's last copy
        try hostImages.withUnsafeBytes { src in
            for (row, place) in images {
                try target.write(UnsafeRawBufferPointer(rebasing: src[(row * imageBytes)..<((row + 1) * imageBytes)]), at: place * imageBytes)
            }
        }
        if !slotCopies.isEmpty { try slotCopies[slot].launch() }
    }
}

/// Feeds the steps of a pass to recorded sequences: each step's rows go to one of two index buffers in
/// turn, so the host writes step s + 1's while the device runs step s (step s - 1, the buffer's last
/// user, has finished by then). A streamed data set's images come in chunks of whole steps, chunk c in
/// slot c % 2: chunk c + 1 is copied in as soon as chunk c's first step is launched and chunk c - 1's
/// steps have finished, so it is ready before the device needs it.
public final class BatchFeeder {
    public let data: DeviceDataset
    public let maxBatch: Int
    /// Two buffers of 2 x maxBatch uints: the batch's data set indices, then (streamed) their places in the slots.
    public let indices: [DeviceBuffer]
    private var steps: [[Int]] = []
    private let stepsPerChunk: Int

    public init(data: DeviceDataset, maxBatch: Int, label: String) throws {
        self.data = data
        self.maxBatch = maxBatch
        indices = try (0..<2).map { try DeviceBuffer(data.context, bytes: 8 * maxBatch, label: "\(label) indices \($0)", hostVisible: true) }
        if case .streamed(let capacity) = data.residency {
            precondition(capacity >= maxBatch, "stream slots hold fewer images than a batch")
            stepsPerChunk = capacity / maxBatch
        } else {
            stepsPerChunk = 0
        }
    }

    var positionsAt: Int { data.residency == .resident ? 0 : maxBatch }

    /// Records the batch of a step that reads index buffer `parity`.
    public func recordBatch(_ seq: CommandSequence, kernels: Kernels, parity: Int, batch: Int, mode: AugmentMode, input: BufferRange,
                            target: BufferRange?) throws {
        try data.recordBatch(seq, kernels: kernels, indices: indices[parity], positionsAt: positionsAt, batch: batch, mode: mode, input: input, target: target)
    }

    /// The sequence of the last step run, until `finish`.
    private var running: CommandSequence?

    /// Runs step `s`: writes its indices, launches `seq` (which reads index buffer s % 2), waits for step
    /// s - 1 and, streamed, brings in the next chunk when s begins one. Step s may still run on return.
    public func run(step s: Int, _ seq: CommandSequence) throws {
        try write(step: s)
        try seq.launch()
        try running?.wait()
        running = seq
        try launched(step: s)
    }

    /// Waits for the last step run.
    public func finish() throws {
        try running?.wait()
        running = nil
    }

    /// A new pass over `steps` (each step's data set rows, at most maxBatch); nothing of the previous pass
    /// may still be running. Streamed: brings in the first chunk.
    public func begin(_ steps: [[Int]]) throws {
        precondition(steps.allSatisfy { $0.count <= maxBatch })
        precondition(running == nil, "begin while a step runs: finish() first")
        self.steps = steps
        if stepsPerChunk > 0 && !steps.isEmpty { try fill(chunk: 0) }
    }

    /// Writes step `s`'s indices into buffer s % 2 (step s - 2 must have finished).
    func write(step s: Int) throws {
        let rows = steps[s]
        var words = rows.map { UInt32($0) }
        if stepsPerChunk > 0, case .streamed(let capacity) = data.residency {
            let slot = s / stepsPerChunk % 2
            words += [UInt32](repeating: 0, count: maxBatch - rows.count) + rows.indices.map { UInt32(slot * capacity + place(step: s, row: $0)) }
        }
        try indices[s % 2].upload(words)
    }

    /// Once step `s` is launched and step s - 1 has finished: at a chunk's first step, the slot of the
    /// chunk before is free and takes the chunk after.
    private func launched(step s: Int) throws {
        guard stepsPerChunk > 0, s % stepsPerChunk == 0 else { return }
        let next = s / stepsPerChunk + 1
        if next * stepsPerChunk < steps.count { try fill(chunk: next) }
    }

    /// Where row `j` of step `s` sits in its chunk's slot: the steps at a whole batch's stride (a short
    /// step leaves its tail unused).
    private func place(step s: Int, row j: Int) -> Int { (s % stepsPerChunk) * maxBatch + j }

    private func fill(chunk: Int) throws {
        let chunkSteps = (chunk * stepsPerChunk)..<min(steps.count, (chunk + 1) * stepsPerChunk)
        try data.fill(slot: chunk % 2, images: chunkSteps.flatMap { s in steps[s].enumerated().map { ($1, place(step: s, row: $0)) } })
    }
}
