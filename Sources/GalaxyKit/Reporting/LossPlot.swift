import Foundation

/// The seed's loss figure as SVG: train and test RMSE per epoch, logarithmic y axis.
public enum LossPlot {
    public static func svg(train: [Double], test: [Double], width: Double = 640, height: Double = 400) -> String {
        let (left, right, top, bottom) = (70.0, 20.0, 20.0, 50.0)
        let plotW = width - left - right, plotH = height - top - bottom
        let values = (train + test).filter { $0.isFinite && $0 > 0 }
        let epochs = max(train.count, test.count)
        var lo = floor(log10(values.min() ?? 0.01)), hi = ceil(log10(values.max() ?? 1))
        if hi <= lo { hi = lo + 1 }
        if hi - lo > 6 { lo = hi - 6 }
        func x(_ i: Int) -> Double { left + (epochs <= 1 ? plotW / 2 : plotW * Double(i) / Double(epochs - 1)) }
        func y(_ v: Double) -> Double { top + plotH * (1 - (log10(max(v, pow(10, lo))) - lo) / (hi - lo)) }
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <rect x="\(left)" y="\(top)" width="\(plotW)" height="\(plotH)" fill="none" stroke="#333"/>

        """
        var decade = lo
        while decade <= hi {
            for m in 1...9 {
                let v = pow(10, decade) * Double(m)
                guard log10(v) <= hi + 1e-9 else { break }
                let yy = y(v)
                s += "<line x1=\"\(left)\" x2=\"\(left + plotW)\" y1=\"\(f(yy))\" y2=\"\(f(yy))\" stroke=\"\(m == 1 ? "#bbb" : "#eee")\"/>\n"
                if m == 1 || m == 2 || m == 5 {
                    s += "<text x=\"\(left - 6)\" y=\"\(f(yy + 4))\" text-anchor=\"end\">\(label(v))</text>\n"
                }
            }
            decade += 1
        }
        let tickStep = max(1, Int((Double(epochs) / 10).rounded(.up)))
        for i in stride(from: 0, to: epochs, by: tickStep) {
            s += "<text x=\"\(f(x(i)))\" y=\"\(f(top + plotH + 18))\" text-anchor=\"middle\">\(i + 1)</text>\n"
        }
        s += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">Epoch</text>\n"
        s += "<text x=\"16\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(top + plotH / 2)))\">RMSE (log scale)</text>\n"
        for (series, color, name, row) in [(train, "#1f77b4", "train", 0), (test, "#ff7f0e", "test", 1)] {
            let points = series.enumerated().filter { $0.element.isFinite && $0.element > 0 }.map { "\(f(x($0.offset))),\(f(y($0.element)))" }
            if points.count > 1 {
                s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
            }
            for p in points {
                let xy = p.split(separator: ",")
                s += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"2.5\" fill=\"\(color)\"/>\n"
            }
            let ly = top + 16 + 18 * Double(row)
            s += "<line x1=\"\(f(left + plotW - 90))\" x2=\"\(f(left + plotW - 66))\" y1=\"\(f(ly - 4))\" y2=\"\(f(ly - 4))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            s += "<text x=\"\(f(left + plotW - 60))\" y=\"\(f(ly))\">\(name)</text>\n"
        }
        return s + "</svg>\n"
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }
    private static func label(_ v: Double) -> String {
        v >= 1 ? String(format: "%g", v) : String(format: "%g", (v * 1e6).rounded() / 1e6)
    }
}
