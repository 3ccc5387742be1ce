import ArgumentParser
import GalaxyKit

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("galaxy bench is not implemented yet") }
}
