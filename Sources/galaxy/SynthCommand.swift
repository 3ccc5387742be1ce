import ArgumentParser
import GalaxyKit

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "synth", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("galaxy synth is not implemented yet") }
}
