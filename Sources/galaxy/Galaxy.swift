import ArgumentParser
import Foundation
import GalaxyKit

@main
struct Galaxy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "galaxy",
        abstract: "Train and run the Galaxy Zoo CNN in GLSL compute shaders on Vulkan.",
        subcommands: [
            SynthCommand.self, PrepareCommand.self, TrainCommand.self, EvalCommand.self,
            PredictCommand.self, ReportCommand.self, ExportCommand.self, SubmitCommand.self, CatalogCommand.self, DevicesCommand.self, BenchCommand.self, PreviewCommand.self, SelfTestCommand.self,
        ]
    )
}

/// Runs `body`, turning a thrown error into a one-line message on stderr and exit code 1,
/// so that a user sees what is wrong and where, never a stack trace.
/// Library notices (such as llvmpipe about to compile) go to stderr as they happen.
func reportingErrors(_ body: () throws -> Void) throws {
    VulkanContext.notice = { log($0) }
    do { try body() } catch let exit as ExitCode {
        throw exit
    } catch let error as CleanExit {
        throw error
    } catch {
        // A rank of an mpirun job says which it is, and stops the others (they would wait for it forever).
        if let world = try? MPIWorld.join(), world.size > 1 {
            FileHandle.standardError.write(Data("error: rank \(world.rank) of \(world.size): \(error)\n".utf8))
            world.abort(ExitStatus.of(error))
        }
        var message = "error: \(error)"
        if error is VulkanError, ExitStatus.deviceFailure(of: error) != nil {
            message += "; nothing was written (every output file is written whole at the end, or not at all): run the command again "
                + "once the device is back (or on another with --device)"
        }
        FileHandle.standardError.write(Data("\(message)\n".utf8))
        if case .timedOut = ExitStatus.deviceFailure(of: error) { ExitStatus.endLeavingTheDevice(ExitStatus.of(error)) }
        throw ExitCode(ExitStatus.of(error))
    }
}
