import Foundation

/// SanderDielemanNet as an ONNX model (onnx.proto): the seed's layers as standard operators (Conv, Relu,
/// MaxPool, Flatten, Gemm) over the checkpoint's tensors in PyTorch's layout and names, then the output
/// layer in the checkpoint's form: the seed's ReLU, or the decision-tree layer (ConstrainedOutput.swift)
/// built from Split, Relu / Softplus, ReduceSum, Div, Mul and Concat; or, for a Dirichlet (vote counts)
/// checkpoint, the concentrations as a second output beside the expected shares of all volunteers.
public enum OnnxExport {
    public static let opset: Int64 = 17
    /// The IR version of ONNX 1.12, the release that introduced opset 17.
    public static let irVersion: Int64 = 8
    public static let inputName = "image"
    public static let outputName = "output"
    /// A Dirichlet checkpoint's second output: the concentrations alpha = 1 + 99 sigmoid(z) per answer.
    public static let concentrationsName = "concentrations"

    /// What the model expects and gives, as its metadata_props record it (and `galaxy export` prints it).
    public static func description(mode: OutputMode, columns: [String], schema: AnswerSchema? = nil) -> [(key: String, value: String)] {
        let p = GalaxyPreprocessing.self
        let floats = { (v: [Float]) in v.map { "\($0)" }.joined(separator: ",") }
        let k = columns.count
        let output: String
        if mode == .dirichlet {
            let map = "alpha = \(Int(Reference.concentrationFloor)) + \(Int(Reference.concentrationSpan)) sigmoid(z)"
            output = "\(outputName): float32 [N, \(k)], one column per answer: its expected share of all volunteers (the expected shares "
                + "alpha_i / sum alpha down the decision tree \(schema?.name ?? "")); \(concentrationsName): float32 [N, \(k)], the Dirichlet "
                + "concentrations \(map) per answer"
        } else {
            output = "\(outputName): float32 [N, \(k)], one column per answer; output layer \(mode.argument)"
        }
        var items: [(key: String, value: String)] = [
            ("input", "\(inputName): float32 [N, \(SanderDielemanNet.inputChannels), \(p.outputSide), \(p.outputSide)], N images of any number"),
            ("preprocessing", "center crop \(p.cropSide)x\(p.cropSide) of the JPEG -> resize to \(p.outputSide)x\(p.outputSide) (bilinear, antialiased: "
                + "PIL's Image.resize) -> RGB planes, channels first -> x / 255 -> (x - mean) / std per channel"),
            ("crop", "\(p.cropSide)"), ("size", "\(p.outputSide)"), ("channels", "RGB"),
            ("mean", floats(Augment.mean)), ("std", floats(Augment.std)),
            ("output", output),
            ("output_form", mode.rawValue),
            ("columns", columns.joined(separator: ",")),
        ]
        if let schema { items.append(("schema", schema.json)) }
        return items
    }

    /// The ONNX model of `weights` with output layer `mode`; `columns` name the outputs; `tree` is the checkpoint's
    /// schema: the decision tree of the constrained layer, and of a Dirichlet checkpoint's expected shares.
    static func model(weights: ModelWeights, mode: OutputMode, columns: [String], tree: AnswerSchema?, source: String) throws -> Onnx_ModelProto {
        let k = weights.outputs
        guard columns.count == k else { throw GalaxyError.message("\(source): \(columns.count) column names for \(k) outputs") }
        if mode == .dirichlet {
            guard let tree else { throw GalaxyError.message("\(source): a dirichlet checkpoint without its schema in the metadata") }
            guard tree.answerCount == k else {
                throw GalaxyError.message("\(source): its schema \"\(tree.name)\" has \(tree.answerCount) answers, the weights \(k) outputs")
            }
        }
        if mode.constrainedForm != nil && tree?.answerCount != k {
            throw GalaxyError.message("\(source): the \(mode.argument) output layer needs the decision tree of its \(k) outputs, and the checkpoint records none")
        }
        var g = GraphBuilder()
        for name in weights.names { g.floats(name, weights.tensors[name]!.shape, weights.tensors[name]!.values) }
        func conv(_ x: String, _ layer: String, kernel: Int) -> String {
            g.node("Conv", [x, "\(layer).weight", "\(layer).bias"], name: layer,
                   [ints("kernel_shape", [kernel, kernel]), ints("strides", [1, 1]), ints("pads", [0, 0, 0, 0])])
        }
        func pool(_ x: String, _ name: String) -> String {
            g.node("MaxPool", [x], name: name, [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])])
        }
        func linear(_ x: String, _ layer: String) -> String {
            g.node("Gemm", [x, "\(layer).weight", "\(layer).bias"], name: layer, [int("transB", 1)])
        }
        var x = pool(g.node("Relu", [conv(inputName, "conv1", kernel: 6)]), "pool1")
        x = pool(g.node("Relu", [conv(x, "conv2", kernel: 5)]), "pool2")
        x = g.node("Relu", [conv(x, "conv3", kernel: 3)])
        x = pool(g.node("Relu", [conv(x, "conv4", kernel: 3)]), "pool4")
        x = g.node("Flatten", [x], name: "flatten", [int("axis", 1)])
        x = g.node("Relu", [linear(x, "fc1")])
        x = g.node("Relu", [linear(x, "fc2")])
        let z = linear(x, "fc3")
        if mode == .dirichlet, let schema = tree {
            // alpha = 1 + 99 sigmoid(z), the concentration head (Dirichlet.swift).
            g.floats("concentration.span", [], [Float(Reference.concentrationSpan)])
            g.floats("concentration.floor", [], [Float(Reference.concentrationFloor)])
            let scaled = g.node("Mul", [g.node("Sigmoid", [z], name: "concentration.sigmoid"), "concentration.span"], name: "concentration.scale")
            g.node("Add", [scaled, "concentration.floor"], name: "concentration", output: concentrationsName)
            expectedShares(&g, alpha: concentrationsName, schema: schema)
        } else if let form = mode.constrainedForm {
            decisionTree(&g, z: z, tree: tree!, form: form)
        } else {
            g.node("Relu", [z], output: outputName)
        }

        var graph = Onnx_GraphProto()
        graph.name = "SanderDielemanNet"
        graph.node = g.nodes
        graph.initializer = g.initializers
        graph.input = [valueInfo(inputName, [SanderDielemanNet.inputChannels, SanderDielemanNet.inputSide, SanderDielemanNet.inputSide],
                                 doc: "galaxy images, preprocessed as the model's metadata says")]
        graph.output = [valueInfo(outputName, [k], doc: "answers: " + columns.joined(separator: ","))]
        if mode == .dirichlet {
            graph.output.append(valueInfo(concentrationsName, [k], doc: "Dirichlet concentrations of the answers: " + columns.joined(separator: ",")))
        }

        var model = Onnx_ModelProto()
        model.irVersion = irVersion
        model.opsetImport = [Onnx_OperatorSetIdProto.with { $0.domain = ""; $0.version = opset }]
        model.producerName = "galaxy"
        model.docString = "SanderDielemanNet (Galaxy Zoo) from \(URL(fileURLWithPath: source).lastPathComponent), exported by galaxy"
        model.graph = graph
        model.metadataProps = description(mode: mode, columns: columns, schema: mode == .relu ? nil : tree).map { key, value in
            Onnx_StringStringEntryProto.with { $0.key = key; $0.value = value }
        }
        return model
    }

    /// Dieleman's decision-tree layer on z [N, k] in `tree`: per question, weights a = f(z) (relu form: max(z, 0);
    /// softplus form: softplus(z), or exp(z - max z) when the question's largest z is below the tail as
    /// the shaders do), normalized to sum 1 (relu form: + 1e-12), scaled by the parent answer's output.
    /// Nodes are named by question number (tree.Q1 is the first question).
    static func decisionTree(_ g: inout GraphBuilder, z: String, tree: AnswerSchema, form: ConstrainedOutputForm) {
        g.ints64("tree.split", [tree.questionRanges.count], tree.questionRanges.map { Int64($0.count) })
        g.ints64("tree.axis", [1], [1])
        let questions = g.node("Split", [z, "tree.split"], name: "tree.questions", outputs: tree.questionRanges.count, [int("axis", 1)])
        if form == .softplus { g.floats("tree.softplus_tail", [], [Float(Reference.softplusTail)]) }
        if form == .relu { g.floats("tree.epsilon", [], [Float(Reference.constrainedOutputEpsilon)]) }
        var answers = [String](repeating: "", count: tree.questions.count)
        for q in tree.treeOrder {
            let zq = questions[q], label = "tree.Q\(q + 1)"
            let a: String
            switch form {
            case .relu:
                a = g.node("Relu", [zq], name: "\(label).relu")
            case .softplus:
                let top = g.node("ReduceMax", [zq], name: "\(label).max", [int("axes", nil, ints: [1]), int("keepdims", 1)])
                let tail = g.node("Less", [top, "tree.softplus_tail"], name: "\(label).in_tail")
                let shifted = g.node("Exp", [g.node("Sub", [zq, top], name: "\(label).shift")], name: "\(label).exp")
                a = g.node("Where", [tail, shifted, g.node("Softplus", [zq], name: "\(label).softplus")], name: "\(label).weights")
            }
            var sum = g.node("ReduceSum", [a, "tree.axis"], name: "\(label).sum", [int("keepdims", 1)])
            if form == .relu { sum = g.node("Add", [sum, "tree.epsilon"], name: "\(label).sum_eps") }
            var p = g.node("Div", [a, sum], name: "\(label).normalize")
            if let parent = tree.parentColumn[q] {
                // The parent's question comes earlier in treeOrder: its answers are final.
                let pq = tree.questionOfColumn[parent], j = Int64(parent - tree.questionRanges[pq].lowerBound)
                g.ints64("\(label).parent_start", [1], [j])
                g.ints64("\(label).parent_end", [1], [j + 1])
                let parentValue = g.node("Slice", [answers[pq], "\(label).parent_start", "\(label).parent_end", "tree.axis"], name: "\(label).parent")
                p = g.node("Mul", [p, parentValue], name: "\(label).scale")
            }
            answers[q] = p
        }
        g.node("Concat", answers, name: "tree.concat", output: outputName, [int("axis", 1)])
    }

    /// The expected share of all volunteers per answer from the concentrations alpha [N, k] (CountUncertainty's
    /// `expected`): per question, alpha_i / sum alpha, times the parent answer's share; the questions asked of
    /// everyone first, then the schema's scaling order, so that a parent's share is there before its children's.
    static func expectedShares(_ g: inout GraphBuilder, alpha: String, schema: AnswerSchema) {
        g.ints64("tree.split", [schema.questionRanges.count], schema.questionRanges.map { Int64($0.count) })
        g.ints64("tree.axis", [1], [1])
        let questions = g.node("Split", [alpha, "tree.split"], name: "tree.questions", outputs: schema.questionRanges.count, [int("axis", 1)])
        var shares = [String?](repeating: nil, count: questions.count)
        for q in schema.questions.indices.filter({ schema.parentColumn[$0] == nil }) + schema.scalingOrder {
            let label = "tree.\(schema.questions[q].id)"
            let sum = g.node("ReduceSum", [questions[q], "tree.axis"], name: "\(label).sum", [int("keepdims", 1)])
            var p = g.node("Div", [questions[q], sum], name: "\(label).share")
            if let parent = schema.parentColumn[q] {
                let pq = schema.questionOfColumn[parent], j = Int64(parent - schema.questionRanges[pq].lowerBound)
                g.ints64("\(label).parent_start", [1], [j])
                g.ints64("\(label).parent_end", [1], [j + 1])
                let parentShare = g.node("Slice", [shares[pq]!, "\(label).parent_start", "\(label).parent_end", "tree.axis"], name: "\(label).parent")
                p = g.node("Mul", [p, parentShare], name: "\(label).of_all")
            }
            shares[q] = p
        }
        g.node("Concat", shares.map { $0! }, name: "tree.concat", output: outputName, [int("axis", 1)])
    }

    /// Reads a galaxy checkpoint and writes its ONNX model to `out` atomically; returns the model's description.
    @discardableResult
    public static func export(checkpoint: URL, to out: URL) throws -> [(key: String, value: String)] {
        let (weights, metadata) = try ModelWeights.load(checkpoint)
        let mode = try OutputMode(metadata: metadata, file: checkpoint.path)
        let columns = try AnswerSchema.columns(metadata: metadata, outputs: weights.outputs, file: checkpoint.path)
        // A Dirichlet checkpoint must record its tree (its expected shares follow it); the constrained layer may
        // be a Kaggle checkpoint from before schemas were recorded, whose 37 outputs imply the Kaggle tree.
        let tree = mode == .dirichlet ? try AnswerSchema(metadata: metadata, file: checkpoint.path)
                                      : try AnswerSchema.implied(metadata: metadata, outputs: weights.outputs, file: checkpoint.path)
        let schema = mode == .relu ? nil : tree
        let model = try model(weights: weights, mode: mode, columns: columns, tree: tree, source: checkpoint.path)
        try AtomicFile.write(Data(model.serializedBytes()), to: out)
        return description(mode: mode, columns: columns, schema: schema)
    }

    static func valueInfo(_ name: String, _ dims: [Int], doc: String) -> Onnx_ValueInfoProto {
        Onnx_ValueInfoProto.with { info in
            info.name = name
            info.docString = doc
            info.type.tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            info.type.tensorType.shape.dim = [Onnx_TensorShapeProto.Dimension.with { $0.dimParam = "N" }]
                + dims.map { d in Onnx_TensorShapeProto.Dimension.with { $0.dimValue = Int64(d) } }
        }
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto { int(name, nil, ints: values) }

    static func int(_ name: String, _ value: Int?, ints: [Int] = []) -> Onnx_AttributeProto {
        Onnx_AttributeProto.with { a in
            a.name = name
            if let value {
                a.type = .int
                a.i = Int64(value)
            } else {
                a.type = .ints
                a.ints = ints.map(Int64.init)
            }
        }
    }
}

/// Nodes and initializers of a graph under construction; each node's outputs get fresh names.
struct GraphBuilder {
    var nodes: [Onnx_NodeProto] = []
    var initializers: [Onnx_TensorProto] = []
    private var counts: [String: Int] = [:]

    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], name: String? = nil, output: String? = nil, _ attributes: [Onnx_AttributeProto] = []) -> String {
        node(op, inputs, name: name, outputs: 1, fixed: output.map { [$0] }, attributes)[0]
    }

    mutating func node(_ op: String, _ inputs: [String], name: String?, outputs: Int, fixed: [String]? = nil, _ attributes: [Onnx_AttributeProto] = []) -> [String] {
        let base = name ?? {
            counts[op, default: 0] += 1
            return "\(op.lowercased())\(counts[op]!)"
        }()
        let names = fixed ?? (outputs == 1 ? [base] : (0..<outputs).map { "\(base).\($0)" })
        nodes.append(Onnx_NodeProto.with { n in
            n.name = base
            n.opType = op
            n.input = inputs
            n.output = names
            n.attribute = attributes
        })
        return names
    }

    mutating func floats(_ name: String, _ dims: [Int], _ values: [Float]) {
        initializers.append(Onnx_TensorProto.with { t in
            t.name = name
            t.dims = dims.map(Int64.init)
            t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            t.rawData = values.withUnsafeBytes { Data($0) }  // little-endian, as ONNX's raw_data is
        })
    }

    mutating func ints64(_ name: String, _ dims: [Int], _ values: [Int64]) {
        initializers.append(Onnx_TensorProto.with { t in
            t.name = name
            t.dims = dims.map(Int64.init)
            t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
            t.int64Data = values
        })
    }
}
