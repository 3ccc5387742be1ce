import XCTest
@testable import GalaxyKit

/// The input gradient behind saliency maps: the CPU reference network's by finite differences, the
/// device's (conv1's backward-input pass) against the reference, the picture and its PNG.
final class SaliencyTests: GPUTestCase {
    private let weights = ModelWeights(outputs: 37, seed: 8)

    /// L(x) = <r, output(x)> in Float64: dL/dx from ReferenceNetwork.inputGradient against central
    /// differences at the 8 inputs of largest gradient and 8 random ones. The network is piecewise linear
    /// (relu output) or smooth (softplus form); with h = 1e-6 on inputs of order 1 a ReLU kink or a pooling
    /// argmax is crossed only by chance, and the error is rounding (~1e-16 * |L| / h ~ 1e-10), so 1e-6 of
    /// the gradient's scale leaves a wide margin.
    func testReferenceInputGradientByFiniteDifferences() {
        for mode in [OutputMode.relu, .constrained] {
            let net = ReferenceNetwork<Double>(weights, outputMode: mode)
            let x = randomFloats(SanderDielemanNet.inputCount, seed: 21, -2, 2).asDouble
            let r = randomFloats(37, seed: 22).asDouble
            let analytic = net.inputGradient(net.forward(x, batch: 1), seed: r, batch: 1)
            XCTAssertEqual(analytic.count, x.count)
            let scale = analytic.map(abs).max() ?? 0
            XCTAssertGreaterThan(scale, 0, "\(mode): a zero input gradient checks nothing")
            let largest = analytic.indices.sorted { abs(analytic[$0]) > abs(analytic[$1]) }.prefix(8)
            var rng = SplitMix64(seed: 23)
            let random = (0..<8).map { _ in Int(rng.next() % UInt64(x.count)) }
            let h = 1e-6
            func loss(_ v: [Double]) -> Double { zip(r, net.forward(v, batch: 1).output).reduce(0) { $0 + $1.0 * $1.1 } }
            for i in Array(largest) + random {
                var plus = x, minus = x
                plus[i] += h
                minus[i] -= h
                let numeric = (loss(plus) - loss(minus)) / (2 * h)
                XCTAssertLessThan(abs(numeric - analytic[i]), 1e-6 * scale, "\(mode) input[\(i)]: analytic \(analytic[i]) numeric \(numeric)")
            }
        }
    }

    /// The device's input gradient (forward, then the saliency pass from a one-hot output gradient) against
    /// the Float64 reference, in every output form, for two images explaining different answers: 1e-4 of
    /// the gradient's scale, the float32-through-8-layers bound of the other network tests.
    func testDeviceInputGradientMatchesReference() throws {
        let b = 2
        let x = randomFloats(b * SanderDielemanNet.inputCount, seed: 1, -2, 2)
        // Every output form in a small job's tiles; the GPU configuration (conv1's input gradient as an implicit GEMM)
        // once, except in make test's passes at other lane counts (GALAXY_TEST_VARIANTS=device, as gpuVariants).
        let cases = OutputMode.allCases.map { ("small job", smallJobKernels, $0) } 
            + (ProcessInfo.processInfo.environment["GALAXY_TEST_VARIANTS"] == "device" ? [] : [("gpu", Kernels(context, path: .sharedMemory()), OutputMode.relu)])
        for (tag, kernels, mode) in cases {
            let net = try DeviceNetwork(kernels: kernels, outputs: 37, maxBatch: b, training: false, outputMode: mode, saliency: true)
            try net.setWeights(weights)
            try net.input.upload(x)
            let ref = ReferenceNetwork<Double>(weights, outputMode: mode)
            let acts = ref.forward(x.asDouble, batch: b)
            // Row 0 explains its largest output strictly inside (0.01, 0.99), row 1 its second: a live answer (above
            // the final ReLU) that does not hold its whole question alone (the constrained-relu form's gradient
            // there is ~1e-14, below float32's resolution).
            var seed = [Float](repeating: 0, count: b * 37)
            for row in 0..<b {
                let live = (0..<37).filter { acts.output[row * 37 + $0] > 0.01 && acts.output[row * 37 + $0] < 0.99 }
                let order = live.sorted { acts.output[row * 37 + $0] > acts.output[row * 37 + $1] }
                seed[row * 37 + order[row]] = 1
            }
            try net.target.upload(seed)
            let seq = try CommandSequence(context)
            try net.recordForward(seq, batch: b)
            try net.recordSaliency(seq, batch: b)
            try seq.submit()
            let got: [Float] = try net.inputGradient.download(count: b * SanderDielemanNet.inputCount)
            let want = ref.inputGradient(acts, seed: seed.asDouble, batch: b)
            XCTAssertGreaterThan(want.map(abs).max() ?? 0, 1e-6, "\(mode): a vanishing gradient checks nothing")
            for row in 0..<b {
                let m = SanderDielemanNet.inputCount
                XCTAssertLessThan(SelfTest.relativeError(Array(got[row * m..<(row + 1) * m]), Array(want[row * m..<(row + 1) * m])), 1e-4,
                                  "\(tag) \(mode) image \(row): max |device| \(got[row * m..<(row + 1) * m].map(abs).max()!), max |reference| \(want[row * m..<(row + 1) * m].map(abs).max()!), answer \(seed[(row * 37)..<(row * 37 + 37)].firstIndex(of: 1)! - row * 37) output \(acts.output[row * 37..<(row * 37 + 37)].map { String(format: "%.3f", $0) })")
            }
        }
    }

    /// SaliencyMapper (what `galaxy predict --explain` runs) explains the default answer (Question 1's
    /// top) and a named one, with the reference's gradient.
    func testMapperExplainsTheChosenAnswer() throws {
        let images = (0..<(2 * GalaxyDataset.imageBytes)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
        let mapper = try SaliencyMapper(context: context, weights: weights, columns: GalaxyZooTree.columnNames, maxBatch: 2,
                                        outputMode: .constrained, path: smallJobKernels.path)
        let spiral = try mapper.column(named: "Class4.1")
        XCTAssertThrowsError(try mapper.column(named: "Class12.1"))
        let out = try mapper.explain(images: images, answers: [nil, spiral])
        let ref = ReferenceNetwork<Double>(weights, outputMode: .constrained)
        let x = Reference.augment(images: images, side: GalaxyDataset.imageSide, indices: [0, 1], mode: .none).asDouble
        let acts = ref.forward(x, batch: 2)
        let q1 = Array(acts.output[0..<3])
        XCTAssertEqual(out[0].answer, q1.firstIndex(of: q1.max()!)!)
        XCTAssertEqual(out[1].answer, spiral)
        var seed = [Double](repeating: 0, count: 74)
        seed[out[0].answer] = 1
        seed[37 + spiral] = 1
        let want = ref.inputGradient(acts, seed: seed, batch: 2)
        let m = SanderDielemanNet.inputCount
        XCTAssertLessThan(SelfTest.relativeError(out[0].gradient, Array(want[0..<m])), 1e-4)
        XCTAssertLessThan(SelfTest.relativeError(out[1].gradient, Array(want[m..<(2 * m)])), 1e-4)
        let picture = SaliencyPicture.render(crop: Array(images[0..<GalaxyDataset.imageBytes]), gradient: out[0].gradient, zoom: 4)
        XCTAssertEqual(picture.width, 276)
        XCTAssertEqual(picture.pixels.count, 276 * 276 * 3)
    }

    /// The PNG writer's bytes, decoded by Python's zlib: the same pixels, and valid chunk CRCs.
    func testPNGRoundTripsThroughZlib() throws {
        let image = RGBImage(width: 300, height: 250, pixels: (0..<(300 * 250 * 3)).map { UInt8(truncatingIfNeeded: $0 * 7) })
        let png = PNG.encode(image)
        XCTAssertEqual(Array(png[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("png-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("t.png")
        try Data(png).write(to: file)
        let script = """
        import sys, zlib, struct
        b = open(sys.argv[1], 'rb').read(); i = 8; idat = b''
        while i < len(b):
            n, = struct.unpack('>I', b[i:i+4]); t = b[i+4:i+8]; d = b[i+8:i+8+n]
            assert zlib.crc32(t + d) == struct.unpack('>I', b[i+8+n:i+12+n])[0], t
            if t == b'IHDR': w, h = struct.unpack('>II', d[:8])
            if t == b'IDAT': idat += d
            i += 12 + n
        raw = zlib.decompress(idat); row = 1 + 3 * w
        sys.stdout.write('%d %d %d' % (w, h, sum(raw[y * row + 1 + x] * (x + 1) for y in range(h) for x in range(3 * w)) % 1000003))
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, file.path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        var sum = 0
        for y in 0..<250 { for x in 0..<900 { sum += Int(image.pixels[y * 900 + x]) * (x + 1) } }
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(text, "300 250 \(sum % 1000003)")
    }
}
