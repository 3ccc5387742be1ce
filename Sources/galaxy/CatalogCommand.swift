import ArgumentParser
import Foundation
import GalaxyKit

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Predict every image of a folder or a list into one CSV, resumable, on every rank of an mpirun job.",
        discussion: """
        One row per image, in input order: its ID, then every answer under the checkpoint's column names, through \
        the checkpoint's preprocessing and output layer (a Dirichlet checkpoint's: each answer's expected share, \
        then its concentration under <column>_concentration). JPEG and PNG (told apart by content).

        --images DIR: every .jpg, .jpeg and .png below DIR at any depth (names starting with a dot skipped), in \
        sorted path order: sorted by the path below DIR byte by byte, as `LC_ALL=C sort` sorts. Each ID is the \
        file name without its extension; the ID column is `id`.
        --list FILE: one image path per line, in the list's order; or a CSV whose header has a `path` (or Zoobot's \
        `file_loc`) column, and an ID column: --id-column NAME, else the first of `id`, `id_str`, `GalaxyID` \
        (without one, IDs are file names without extension). Relative paths are taken from the current folder.

        An image that does not decode (corrupt, not a JPEG or PNG, smaller than the 207x207 crop) gets no row and \
        a line in OUT.errors (`id,path,error`), which exists only when an image was skipped; --strict stops at it.

        Resumable: rows are appended chunk by chunk to OUT.parts/ and flushed; a run stopped in any way (Ctrl-C, \
        SIGTERM or SIGUSR1: at the next chunk, exit 130 or 75; kill -9; a lost device: exit 69) resumes when the \
        same command is run again, redoing at most one chunk, and the finished OUT is byte-identical to a run \
        made in one go (on the same kind of device). OUT.parts/catalog.json records the checkpoint's and the \
        input's digests: a resume with another checkpoint, input or options is refused. OUT is written at the \
        end, whole; an existing OUT is not replaced without --overwrite. OUT.lock keeps a second run out.

        Under mpirun each rank takes a contiguous share of the images still to do, on its own device, and writes \
        its own parts; rank 0 joins them in order. Any number of ranks resumes any run.

        --decode half: JPEGs are decoded at half size in the DCT domain (libjpeg-turbo's scaled IDCT), before \
        the same crop and resize. \(CatalogFastPath.measured)
        """
    )

    @Option(help: "Weights (safetensors with PyTorch state_dict names).") var checkpoint: String
    @Option(help: ArgumentHelp("A folder of images, walked recursively (sorted path order).", valueName: "DIR")) var images: String?
    @Option(help: ArgumentHelp("A text file of image paths, or a CSV with a path column and an optional ID column.", valueName: "FILE")) var list: String?
    @Option(help: "The --list CSV's ID column.") var idColumn: String?
    @Option(help: ArgumentHelp("The catalogue CSV.", valueName: "FILE.csv")) var out: String
    @Option(help: "Test-time augmentation: average over this many views (1-8: rotations by 90 degrees, then the same flipped).") var tta = 1
    @Option(help: "JPEG decoding: full (the seed's preprocessing) or half (faster, see below).") var decode = DecodeScale.full
    @Flag(help: "Stop at the first image that does not decode instead of skipping it.") var strict = false
    @Flag(help: "Replace a finished OUT, or discard a catalogue in progress in OUT.parts/ and start over.") var overwrite = false
    @Option(help: "Images per chunk: decoded on every core while the device infers the chunk before, then appended and flushed.") var chunk = 1024
    @Option(help: "Vulkan device index or name substring.") var device: String?

    func validate() throws {
        if (images == nil) == (list == nil) { throw ValidationError("give the images with exactly one of --images DIR and --list FILE") }
        if idColumn != nil && list == nil { throw ValidationError("--id-column goes with --list") }
        if chunk < 1 { throw ValidationError("--chunk must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            Interrupt.install()
            let world = try MPIWorld.join()
            let input = try images.map { try CatalogInput.folder(URL(fileURLWithPath: $0)) }
                ?? CatalogInput.list(URL(fileURLWithPath: list!), idColumn: idColumn)
            var options = CatalogOptions(out: URL(fileURLWithPath: out))
            (options.views, options.decode, options.strict, options.overwrite, options.chunk) = (try ttaViews(tta), decode, strict, overwrite, chunk)
            let outcome = try Self.make(input, checkpoint: checkpoint, options: options, device: device, world: world)
            guard case .finished(let summary?) = outcome else { return }
            print("wrote \(summary.out.path): \(summary.rows) rows" + (summary.skipped > 0 ? ", \(summary.skipped) skipped (listed in \(summary.errors!.path))" : "")
                  + (summary.resumed > 0 ? "; resumed after \(summary.resumed) of \(summary.images) images" : ""))
        }
    }

    /// The catalogue of `input` (also `galaxy submit`'s): rank 0 gets the summary; a stop on request exits 130 or 75.
    /// `concentrations`: a Dirichlet checkpoint's rows also hold its concentrations (not in a Kaggle submission).
    static func make(_ input: CatalogInput, checkpoint: String, options: CatalogOptions, device: String?, world: MPIWorld?,
                     concentrations: Bool = true) throws -> CatalogOutcome {
        let (weights, meta) = try ModelWeights.load(URL(fileURLWithPath: checkpoint))
        let outputMode = try OutputMode(metadata: meta, file: checkpoint)
        // A row's columns and their values, from the checkpoint's metadata and output mode.
        let columns = try AnswerSchema.columns(metadata: meta, outputs: weights.outputs, file: checkpoint)
        guard columns.count == weights.outputs else {
            throw ValidationError("\(checkpoint): metadata names \(columns.count) columns for \(weights.outputs) outputs")
        }
        var names = columns
        var answers: (@Sendable ([Float]) -> [Float])?
        if outputMode == .dirichlet {
            // Each answer's expected share of all volunteers under its column name (what submit writes), then the
            // concentrations themselves, `<column>_concentration` (what Zoobot's catalogues keep).
            guard let schema = try AnswerSchema(metadata: meta, file: checkpoint) else {
                throw ValidationError("\(checkpoint): a dirichlet checkpoint without its schema in the metadata")
            }
            let k = columns.count
            if concentrations { names += columns.map { $0 + "_concentration" } }
            answers = { rows in
                let shares = ConcentrationAnswers.expectedFractions(schema: schema, rows: rows)
                guard concentrations else { return shares }
                var both: [Float] = []
                both.reserveCapacity(2 * rows.count)
                for i in stride(from: 0, to: rows.count, by: k) {
                    both += shares[i..<(i + k)]
                    both += rows[i..<(i + k)]
                }
                return both
            }
        }
        let lead = (world?.rank ?? 0) == 0
        let progress = ProgressReporter(label: "catalog", total: input.count)
        let job = try CatalogJob(input: input, columns: names, answers: answers, checkpoint: URL(fileURLWithPath: checkpoint), options: options,
                                 world: world, progress: lead ? progress : nil)
        let outcome = try job.run(weights: weights, outputMode: outputMode,
                                  tree: try AnswerSchema.implied(metadata: meta, outputs: weights.outputs, file: checkpoint),
                                  openDevice: { try openDevice(device, world: world) }, shouldStop: { Interrupt.requested != 0 })
        switch outcome {
        case .stopped(let done, let total):
            if lead {
                log("stopped after \(done) of \(total) images, kept in \(options.out.path).parts; run the same command again to go on")
            }
            throw ExitCode(Interrupt.exitCode)
        case .finished(let summary?):
            log(String(format: "catalog: %.1f s waiting for decoded images, %.1f s inferring, %.1f s writing rows",
                       summary.decodeWaitSeconds, summary.inferSeconds, summary.writeSeconds))
        case .finished(nil): break
        }
        return outcome
    }
}

extension DecodeScale: ExpressibleByArgument {}
