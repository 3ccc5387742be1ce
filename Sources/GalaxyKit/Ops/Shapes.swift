/// Shape of a stride-1, unpadded 2D convolution over NCHW input with OIHW weights.
public struct Conv2dShape: Equatable, Sendable {
    public var batch: Int
    public var inChannels: Int
    public var outChannels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var kernel: Int

    public init(batch: Int, inChannels: Int, outChannels: Int, inHeight: Int, inWidth: Int, kernel: Int) {
        precondition(kernel >= 1 && inHeight >= kernel && inWidth >= kernel, "conv input \(inHeight)x\(inWidth) smaller than kernel \(kernel)")
        self.batch = batch
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.kernel = kernel
    }

    public var outHeight: Int { inHeight - kernel + 1 }
    public var outWidth: Int { inWidth - kernel + 1 }
    public var inputCount: Int { batch * inChannels * inHeight * inWidth }
    public var outputCount: Int { batch * outChannels * outHeight * outWidth }
    public var weightCount: Int { outChannels * inChannels * kernel * kernel }
    /// Multiply-adds of the forward pass.
    public var macs: Int { outputCount * inChannels * kernel * kernel }
}

/// Shape of a fully connected layer: x [batch, inFeatures], w [outFeatures, inFeatures].
public struct LinearShape: Equatable, Sendable {
    public var batch: Int
    public var inFeatures: Int
    public var outFeatures: Int
    public init(batch: Int, inFeatures: Int, outFeatures: Int) {
        self.batch = batch
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }
    public var macs: Int { batch * inFeatures * outFeatures }
}

/// Shape of a row-major matrix product C [m, n] = A [m, k] * B [k, n].
public struct GemmShape: Equatable, Sendable {
    public var m: Int
    public var n: Int
    public var k: Int
    public init(m: Int, n: Int, k: Int) {
        precondition(m >= 1 && n >= 1 && k >= 1, "empty GEMM \(m)x\(n)x\(k)")
        self.m = m
        self.n = n
        self.k = k
    }
    public var macs: Int { m * n * k }
}

/// Shape of 2x2, stride-2 max pooling over `planes` = batch * channels planes of height x width.
public struct PoolShape: Equatable, Sendable {
    public var planes: Int
    public var height: Int
    public var width: Int
    public init(planes: Int, height: Int, width: Int) {
        self.planes = planes
        self.height = height
        self.width = width
    }
    public var outHeight: Int { height / 2 }
    public var outWidth: Int { width / 2 }
    public var inputCount: Int { planes * height * width }
    public var outputCount: Int { planes * outHeight * outWidth }
}
