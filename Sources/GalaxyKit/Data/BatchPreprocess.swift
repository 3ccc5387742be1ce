import Dispatch
import Foundation

/// An image that could not be decoded or preprocessed.
public struct ImageFailure: Sendable, Equatable, CustomStringConvertible {
    /// Position in the list given to `preprocessImageFiles`.
    public var index: Int
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Preprocessed images of a list of files, in the list's order.
public struct PreprocessedImages: Sendable {
    /// urls.count x (3*69*69) uint8 CHW; the slots of failed images are zero.
    public var images: [UInt8]
    /// Failed files, sorted by index.
    public var failures: [ImageFailure]
}

/// Decodes (JPEG or PNG, by content), center-crops and resizes every file (see `preprocessGalaxyImage`) on
/// `threads` threads (default: all cores). Failures do not stop the others; they are returned.
/// Also the labels-free path of `galaxy catalog` and `galaxy submit`, chunk by chunk; `decode` `.half` is
/// catalog's opt-in fast path.
public func preprocessImageFiles(_ urls: [URL], threads: Int? = nil, decode scale: DecodeScale = .full,
                                 progress: ProgressReporter? = nil) -> PreprocessedImages {
    let n = urls.count
    let stride = GalaxyPreprocessing.imageBytes
    var images = [UInt8](repeating: 0, count: n * stride)
    let failures = FailureList()
    let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, max(n, 1)))
    images.withUnsafeMutableBufferPointer { buffer in
        let base = buffer.baseAddress
        let work = { (i: Int) in
            let slot = UnsafeMutableBufferPointer(start: base! + i * stride, count: stride)
            do {
                let image = try ImageDecoding.decode(contentsOf: urls[i], scale: scale)
                try preprocessGalaxyImage(image, name: urls[i].path, into: slot)
            } catch {
                failures.append(ImageFailure(index: i, path: urls[i].path, reason: failureReason(error)))
            }
        }
        if workers == 1 {
            for i in 0..<n {
                work(i)
                progress?.advance()
            }
            return
        }
        // Workers take chunks of consecutive images from a shared counter, so a slow image on
        // one thread does not leave the others idle.
        let chunk = 8
        let next = Counter()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let start = next.take(chunk)
                if start >= n { break }
                let end = min(start + chunk, n)
                for i in start..<end { work(i) }
                progress?.advance(by: end - start)
            }
        }
    }
    return PreprocessedImages(images: images, failures: failures.sorted())
}

/// The reason of a decode/preprocess error without the file name (which the caller adds).
func failureReason(_ error: Error) -> String {
    if let e = error as? JPEGError { return e.reason }
    if let e = error as? PreprocessError { return e.reason }
    if let e = error as? ImageDecodeError { return e.reason }
    return "\(error)"
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func take(_ count: Int) -> Int {
        lock.lock(); defer { lock.unlock() }
        let v = value
        value += count
        return v
    }
}

private final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [ImageFailure] = []
    func append(_ f: ImageFailure) {
        lock.lock(); defer { lock.unlock() }
        items.append(f)
    }
    func sorted() -> [ImageFailure] {
        lock.lock(); defer { lock.unlock() }
        return items.sorted { $0.index < $1.index }
    }
}
