/// The CPU reference of every op: plain loops over flat NCHW arrays. This is the specification each
/// shader is tested against, and each backward function here is checked by finite differences.
/// Generic over the float type so tests can run it in Float64.
public enum Reference {
    // MARK: conv2d

    /// y[n,o,oy,ox] = b[o] + sum_{c,ky,kx} x[n,c,oy+ky,ox+kx] * w[o,c,ky,kx]  (y is [N,O,OH,OW])
    @_specialize(exported: true, where T == Double)
    public static func conv2dForward<T: BinaryFloatingPoint>(_ x: [T], _ w: [T], _ b: [T], _ s: Conv2dShape) -> [T] {
        let (oh, ow, k) = (s.outHeight, s.outWidth, s.kernel)
        var y = [T](repeating: 0, count: s.outputCount)
        for n in 0..<s.batch {
            for o in 0..<s.outChannels {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var acc = b[o]
                        for c in 0..<s.inChannels {
                            for ky in 0..<k {
                                let xRow = ((n * s.inChannels + c) * s.inHeight + oy + ky) * s.inWidth + ox
                                let wRow = ((o * s.inChannels + c) * k + ky) * k
                                for kx in 0..<k { acc += x[xRow + kx] * w[wRow + kx] }
                            }
                        }
                        y[((n * s.outChannels + o) * oh + oy) * ow + ox] = acc
                    }
                }
            }
        }
        return y
    }

    /// dx[n,c,iy,ix] = sum_{o,ky,kx} dy[n,o,iy-ky,ix-kx] * w[o,c,ky,kx]  (dx is [N,C,H,W])
    @_specialize(exported: true, where T == Double)
    public static func conv2dBackwardInput<T: BinaryFloatingPoint>(_ dy: [T], _ w: [T], _ s: Conv2dShape) -> [T] {
        let (oh, ow, k) = (s.outHeight, s.outWidth, s.kernel)
        var dx = [T](repeating: 0, count: s.inputCount)
        for n in 0..<s.batch {
            for o in 0..<s.outChannels {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let g = dy[((n * s.outChannels + o) * oh + oy) * ow + ox]
                        for c in 0..<s.inChannels {
                            for ky in 0..<k {
                                let xRow = ((n * s.inChannels + c) * s.inHeight + oy + ky) * s.inWidth + ox
                                let wRow = ((o * s.inChannels + c) * k + ky) * k
                                for kx in 0..<k { dx[xRow + kx] += g * w[wRow + kx] }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// dw[o,c,ky,kx] = sum_{n,oy,ox} dy[n,o,oy,ox] * x[n,c,oy+ky,ox+kx];  db[o] = sum_{n,oy,ox} dy[n,o,oy,ox]
    @_specialize(exported: true, where T == Double)
    public static func conv2dBackwardWeight<T: BinaryFloatingPoint>(_ dy: [T], _ x: [T], _ s: Conv2dShape) -> (dw: [T], db: [T]) {
        let (oh, ow, k) = (s.outHeight, s.outWidth, s.kernel)
        var dw = [T](repeating: 0, count: s.weightCount)
        var db = [T](repeating: 0, count: s.outChannels)
        for n in 0..<s.batch {
            for o in 0..<s.outChannels {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let g = dy[((n * s.outChannels + o) * oh + oy) * ow + ox]
                        db[o] += g
                        for c in 0..<s.inChannels {
                            for ky in 0..<k {
                                let xRow = ((n * s.inChannels + c) * s.inHeight + oy + ky) * s.inWidth + ox
                                let wRow = ((o * s.inChannels + c) * k + ky) * k
                                for kx in 0..<k { dw[wRow + kx] += g * x[xRow + kx] }
                            }
                        }
                    }
                }
            }
        }
        return (dw, db)
    }

    // MARK: maxpool 2x2 stride 2

    /// y[p,oy,ox] = max over the 2x2 window; index = iy*W+ix of the first maximum in row-major window
    /// order (PyTorch's tie rule; a NaN wins). Odd trailing rows/columns are dropped (floor).
    @_specialize(exported: true, where T == Double)
    public static func maxpool2dForward<T: BinaryFloatingPoint>(_ x: [T], _ s: PoolShape) -> (y: [T], index: [UInt32]) {
        let (oh, ow) = (s.outHeight, s.outWidth)
        var y = [T](repeating: 0, count: s.outputCount)
        var index = [UInt32](repeating: 0, count: s.outputCount)
        for p in 0..<s.planes {
            let base = p * s.height * s.width
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var best = (2 * oy) * s.width + 2 * ox
                    var m = x[base + best]
                    for k in 1..<4 {
                        let at = (2 * oy + k / 2) * s.width + 2 * ox + k % 2
                        if x[base + at] > m || x[base + at].isNaN { m = x[base + at]; best = at }
                    }
                    y[(p * oh + oy) * ow + ox] = m
                    index[(p * oh + oy) * ow + ox] = UInt32(best)
                }
            }
        }
        return (y, index)
    }

    /// dx is zero except at each window's recorded maximum, which receives the window's dy.
    @_specialize(exported: true, where T == Double)
    public static func maxpool2dBackward<T: BinaryFloatingPoint>(_ dy: [T], _ index: [UInt32], _ s: PoolShape) -> [T] {
        var dx = [T](repeating: 0, count: s.inputCount)
        for p in 0..<s.planes {
            for j in 0..<(s.outHeight * s.outWidth) {
                let o = p * s.outHeight * s.outWidth + j
                dx[p * s.height * s.width + Int(index[o])] += dy[o]
            }
        }
        return dx
    }

    // MARK: sgemm

    /// c[m,n] = sum_k a[m,k] * b[k,n]  (row-major: a is [M,K], b [K,N], c [M,N])
    /// y[i] = sum over chunks h of x[h * count + i], in chunk order (chunk_sum.comp).
    @_specialize(exported: true, where T == Double)
    public static func chunkSum<T: BinaryFloatingPoint>(_ x: [T], count: Int, chunks: Int) -> [T] {
        precondition(x.count >= count * chunks, "chunkSum: \(x.count) values for \(chunks) chunks of \(count)")
        return (0..<count).map { i in (0..<chunks).reduce(T(0)) { $0 + x[$1 * count + i] } }
    }

    @_specialize(exported: true, where T == Double)

    public static func sgemm<T: BinaryFloatingPoint>(_ a: [T], _ b: [T], _ s: GemmShape) -> [T] {
        var c = [T](repeating: 0, count: s.m * s.n)
        for m in 0..<s.m {
            for k in 0..<s.k {
                let av = a[m * s.k + k]
                for n in 0..<s.n { c[m * s.n + n] += av * b[k * s.n + n] }
            }
        }
        return c
    }

    // MARK: linear

    /// y[n,o] = b[o] + sum_k x[n,k] * w[o,k]
    @_specialize(exported: true, where T == Double)
    public static func linearForward<T: BinaryFloatingPoint>(_ x: [T], _ w: [T], _ b: [T], _ s: LinearShape) -> [T] {
        var y = [T](repeating: 0, count: s.batch * s.outFeatures)
        for n in 0..<s.batch {
            for o in 0..<s.outFeatures {
                var acc = b[o]
                for k in 0..<s.inFeatures { acc += x[n * s.inFeatures + k] * w[o * s.inFeatures + k] }
                y[n * s.outFeatures + o] = acc
            }
        }
        return y
    }

    /// dx[n,k] = sum_o dy[n,o] * w[o,k]
    @_specialize(exported: true, where T == Double)
    public static func linearBackwardInput<T: BinaryFloatingPoint>(_ dy: [T], _ w: [T], _ s: LinearShape) -> [T] {
        var dx = [T](repeating: 0, count: s.batch * s.inFeatures)
        for n in 0..<s.batch {
            for o in 0..<s.outFeatures {
                let g = dy[n * s.outFeatures + o]
                for k in 0..<s.inFeatures { dx[n * s.inFeatures + k] += g * w[o * s.inFeatures + k] }
            }
        }
        return dx
    }

    /// dw[o,k] = sum_n dy[n,o] * x[n,k];  db[o] = sum_n dy[n,o]
    @_specialize(exported: true, where T == Double)
    public static func linearBackwardWeight<T: BinaryFloatingPoint>(_ dy: [T], _ x: [T], _ s: LinearShape) -> (dw: [T], db: [T]) {
        var dw = [T](repeating: 0, count: s.outFeatures * s.inFeatures)
        var db = [T](repeating: 0, count: s.outFeatures)
        for n in 0..<s.batch {
            for o in 0..<s.outFeatures {
                let g = dy[n * s.outFeatures + o]
                db[o] += g
                for k in 0..<s.inFeatures { dw[o * s.inFeatures + k] += g * x[n * s.inFeatures + k] }
            }
        }
        return (dw, db)
    }

    // MARK: relu

    /// y = max(x, 0)
    @_specialize(exported: true, where T == Double)
    public static func reluForward<T: BinaryFloatingPoint>(_ x: [T]) -> [T] { x.map { $0 > 0 ? $0 : 0 } }

    /// dx = dy where the forward output y > 0, else 0 (PyTorch's threshold_backward on the output).
    @_specialize(exported: true, where T == Double)
    public static func reluBackward<T: BinaryFloatingPoint>(_ y: [T], _ dy: [T]) -> [T] {
        zip(y, dy).map { $0 > 0 ? $1 : 0 }
    }

    // MARK: MSE loss

    /// sum_i (pred_i - target_i)^2, as MSELoss(reduction='sum').
    @_specialize(exported: true, where T == Double)
    public static func mseForward<T: BinaryFloatingPoint>(_ pred: [T], _ target: [T]) -> T {
        zip(pred, target).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    }

    /// Gradient of mseForward(pred, target) / count, which is what the seed back-propagates.
    /// Gradient of sum (pred - target)^2 / denominator (default: the element count).
    @_specialize(exported: true, where T == Double)
    public static func mseBackward<T: BinaryFloatingPoint>(_ pred: [T], _ target: [T], denominator: Int? = nil) -> [T] {
        let n = T(denominator ?? pred.count)
        return zip(pred, target).map { 2 * ($0 - $1) / n }
    }

    // MARK: SGD

    /// One step of torch.optim.SGD(lr, momentum), dampening 0: buf = momentum*buf + g; w -= lr*buf.
    /// A zero buffer reproduces PyTorch's first step (buf = g).
    @_specialize(exported: true, where T == Double)
    public static func sgdMomentum<T: BinaryFloatingPoint>(weights w: inout [T], grads g: [T], buffer buf: inout [T], lr: T, momentum: T) {
        for i in w.indices {
            buf[i] = momentum * buf[i] + g[i]
            w[i] -= lr * buf[i]
        }
    }
}
