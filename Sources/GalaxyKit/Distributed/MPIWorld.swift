import CMPI
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

/// Open MPI's C calls (loaded at run time by CMPI), on MPI_COMM_WORLD, errors returned (not fatal) and thrown.
private enum MPICalls {
    /// The library to load: Open MPI's soname, found by the dynamic loader (LD_LIBRARY_PATH included), or
    /// GALAXY_MPI_LIBRARY's file.
    static var library: String { ProcessInfo.processInfo.environment["GALAXY_MPI_LIBRARY"] ?? "libmpi.so.40" }

    static func initialize() throws -> (rank: Int32, size: Int32) {
        var why = [CChar](repeating: 0, count: 1024)
        guard galaxy_mpi_load(library, &why, why.count) == 0 else {
            throw DistributedError.mpi("galaxy was started by an MPI launcher but cannot load Open MPI's library (\(String(cString: why))); "
                + "install Open MPI (Debian: openmpi-bin), or name its libmpi.so.40 with GALAXY_MPI_LIBRARY")
        }
        // A rank waiting for the others sleeps instead of spinning (Open MPI spins unless oversubscribed):
        // galaxy's ranks wait while their GPU computes, or share lavapipe's CPU cores, and a spinning rank
        // took them from the rank that computes (a 2-rank epoch on 2 cores: 24 s spinning, 6 s yielding).
        // The exchange is once per step, so the microseconds of a wake-up do not count. The user's setting wins.
        setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0)
        var provided: Int32 = 0
        try check(galaxy_mpi_init_thread_funneled(&provided), "MPI_Init_thread")
        try check(galaxy_mpi_errors_return(), "MPI_Comm_set_errhandler")
        var r: Int32 = 0, n: Int32 = 0
        try check(galaxy_mpi_comm_rank(&r), "MPI_Comm_rank")
        try check(galaxy_mpi_comm_size(&n), "MPI_Comm_size")
        return (r, n)
    }

    static func finalize() {
        var finalized: Int32 = 0
        _ = galaxy_mpi_finalized(&finalized)
        if finalized == 0 { _ = galaxy_mpi_finalize() }
    }

    static func abort(_ code: Int32) { _ = galaxy_mpi_abort(code) }

    static func allGather(_ send: UnsafeRawBufferPointer, _ recv: UnsafeMutableRawBufferPointer, count n: Int, double: Bool) throws {
        try check(galaxy_mpi_allgather(send.baseAddress, recv.baseAddress, Int32(n), double ? 1 : 0),
                  "MPI_Allgather of \(n) \(double ? "doubles" : "floats")")
    }

    static func broadcastDoubles(_ buf: UnsafeMutableRawBufferPointer, count: Int, root: Int) throws {
        try check(galaxy_mpi_bcast_doubles(buf.baseAddress, Int32(count), Int32(root)), "MPI_Bcast")
    }

    static func barrier() throws { try check(galaxy_mpi_barrier(), "MPI_Barrier") }

    private static func check(_ code: Int32, _ what: String) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 512)
        galaxy_mpi_error_string(code, &text, text.count)
        throw DistributedError.mpi("\(what) failed: \(String(cString: text)) (another rank may have stopped)")
    }
}

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
