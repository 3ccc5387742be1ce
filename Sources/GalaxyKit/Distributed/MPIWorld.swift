#if canImport(CMPI)
import CMPI
#endif
import Foundation

/// The ranks of an `mpirun` job (MPI_COMM_WORLD), wrapped so that no MPI handle or C pointer leaves
/// this file. Every collective here is called by every rank in the same order; sums are formed by
/// gathering every rank's values and adding them in rank order on each rank, so every rank gets the
/// same bits and a rerun gets the same bits (an MPI_Allreduce may add in an order that depends on the
/// algorithm the library picks).
public final class MPIWorld: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// This rank's index among the ranks on its host (devices are per host).
    public let localRank: Int

    /// True when this process was started by an MPI launcher (mpirun/mpiexec of Open MPI or MPICH, or
    /// srun with PMI): only then does galaxy initialize MPI.
    public static var launched: Bool {
        let env = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"].contains { env[$0] != nil }
    }

    nonisolated(unsafe) private static var current: MPIWorld?

    /// The job's world, initialized once per process; nil when not started by a launcher.
    public static func join() throws -> MPIWorld? {
        if let current { return current }
        guard launched else { return nil }
        let (r, n) = try MPICalls.initialize()
        let env = ProcessInfo.processInfo.environment
        let local = (env["OMPI_COMM_WORLD_LOCAL_RANK"] ?? env["MPI_LOCALRANKID"] ?? env["PMI_LOCAL_RANK"]).flatMap(Int.init) ?? Int(r)
        let world = MPIWorld(rank: Int(r), size: Int(n), localRank: local)
        current = world
        atexit { MPIWorld.finalize() }
        return world
    }

    private init(rank: Int, size: Int, localRank: Int) {
        (self.rank, self.size, self.localRank) = (rank, size, localRank)
    }

    /// MPI_Finalize at a normal exit (an error exit goes through `abort`).
    static func finalize() {
        guard current != nil else { return }
        current = nil
        MPICalls.finalize()
    }

    /// Stops every rank of the job (after this rank printed why).
    public func abort(_ code: Int32) -> Never {
        MPICalls.abort(code)
        exit(code)
    }

    /// Every rank's `values` (the same count on every rank), in rank order.
    public func allGather<T: BinaryFloatingPoint>(_ values: [T]) throws -> [[T]] {
        precondition(T.self == Float.self || T.self == Double.self, "MPI gathers Float or Double")
        let n = values.count
        var all = [T](repeating: 0, count: n * size)
        try values.withUnsafeBytes { send in
            try all.withUnsafeMutableBytes { recv in
                try MPICalls.allGather(send, recv, count: n, double: T.self == Double.self)
            }
        }
        return (0..<size).map { Array(all[($0 * n)..<(($0 + 1) * n)]) }
    }

    /// The sum over ranks of `values`, added in rank order (rank 0 first): the same bits on every rank.
    public func sum<T: BinaryFloatingPoint>(_ values: [T]) throws -> [T] {
        let parts = try allGather(values)
        var total = parts[0]
        for part in parts.dropFirst() {
            for i in total.indices { total[i] += part[i] }
        }
        return total
    }

    /// Rank `root`'s `values` on every rank (the same count on every rank).
    public func broadcast(_ values: [Double], root: Int = 0) throws -> [Double] {
        var v = values
        try v.withUnsafeMutableBytes { buf in
            try MPICalls.broadcastDoubles(buf, count: values.count, root: root)
        }
        return v
    }

    /// Waits for every rank.
    public func barrier() throws {
        try MPICalls.barrier()
    }
}

#if canImport(CMPI)
/// The MPI library's C calls, on MPI_COMM_WORLD, errors returned (not fatal) and thrown.
private enum MPICalls {
    static func initialize() throws -> (rank: Int32, size: Int32) {
        // A rank waiting for the others sleeps instead of spinning (Open MPI spins unless oversubscribed):
        // galaxy's ranks wait while their GPU computes, or share lavapipe's CPU cores, and a spinning rank
        // took them from the rank that computes (a 2-rank epoch on 2 cores: 24 s spinning, 6 s yielding).
        // The exchange is once per step, so the microseconds of a wake-up do not count. The user's setting wins.
        setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0)
        var provided: Int32 = 0
        try check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided), "MPI_Init_thread")
        try check(galaxy_mpi_errors_return(), "MPI_Comm_set_errhandler")
        var r: Int32 = 0, n: Int32 = 0
        try check(MPI_Comm_rank(galaxy_mpi_comm_world(), &r), "MPI_Comm_rank")
        try check(MPI_Comm_size(galaxy_mpi_comm_world(), &n), "MPI_Comm_size")
        return (r, n)
    }

    static func finalize() {
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Finalize() }
    }

    static func abort(_ code: Int32) { MPI_Abort(galaxy_mpi_comm_world(), code) }

    static func allGather(_ send: UnsafeRawBufferPointer, _ recv: UnsafeMutableRawBufferPointer, count n: Int, double: Bool) throws {
        let type = double ? galaxy_mpi_double() : galaxy_mpi_float()
        try check(MPI_Allgather(send.baseAddress, Int32(n), type, recv.baseAddress, Int32(n), type, galaxy_mpi_comm_world()),
                  "MPI_Allgather of \(n) \(double ? "doubles" : "floats")")
    }

    static func broadcastDoubles(_ buf: UnsafeMutableRawBufferPointer, count: Int, root: Int) throws {
        try check(MPI_Bcast(buf.baseAddress, Int32(count), galaxy_mpi_double(), Int32(root), galaxy_mpi_comm_world()), "MPI_Bcast")
    }

    static func barrier() throws { try check(MPI_Barrier(galaxy_mpi_comm_world()), "MPI_Barrier") }

    private static func check(_ code: Int32, _ what: String) throws {
        guard code != galaxy_mpi_success() else { return }
        var text = [CChar](repeating: 0, count: Int(galaxy_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        throw DistributedError.mpi("\(what) failed: \(String(cString: text)) (another rank may have stopped)")
    }
}
#else
/// A build without MPI (GALAXY_NO_MPI=1, as the GPU kit is built): galaxy runs as one process, and a
/// launch under mpirun is refused, so no world exists for the other calls to serve.
private enum MPICalls {
    static let missing = DistributedError.mpi("this galaxy was built without MPI (GALAXY_NO_MPI=1, as the GPU kit is): run it without mpirun")
    static func initialize() throws -> (rank: Int32, size: Int32) { throw missing }
    static func finalize() {}
    static func abort(_ code: Int32) {}
    static func allGather(_ send: UnsafeRawBufferPointer, _ recv: UnsafeMutableRawBufferPointer, count n: Int, double: Bool) throws { throw missing }
    static func broadcastDoubles(_ buf: UnsafeMutableRawBufferPointer, count: Int, root: Int) throws { throw missing }
    static func barrier() throws { throw missing }
}
#endif

public enum DistributedError: Error, CustomStringConvertible {
    case mpi(String)
    case diverged(epoch: Int, digests: [String])

    public var description: String {
        switch self {
        case .mpi(let m): return "MPI: \(m)"
        case .diverged(let epoch, let digests):
            let listed = digests.enumerated().map { "rank \($0.offset): \($0.element)" }.joined(separator: ", ")
            return "the ranks' weights differ after epoch \(epoch) (\(listed)): stopped; the checkpoint of the previous epoch is kept"
        }
    }
}
