#ifndef GALAXY_MPI_H
#define GALAXY_MPI_H
#include <stddef.h>

// Open MPI's C calls that galaxy makes, loaded at run time from libmpi.so.40 (Open MPI 3.0 to 5.x keep
// that name and the ABI used here), so that building galaxy needs no MPI and only `mpirun galaxy ...`
// needs Open MPI installed. Every function but galaxy_mpi_load needs a successful galaxy_mpi_load first;
// each returns MPI's error code (0 is MPI_SUCCESS) on MPI_COMM_WORLD.

/// Opens `library` (a file name the dynamic loader searches for, or a path) and finds every call below.
/// Returns 0, or -1 with the reason written into `error` (`size` bytes).
int galaxy_mpi_load(const char *library, char *error, size_t size);

int galaxy_mpi_init_thread_funneled(int *provided);
/// Errors come back as return codes (MPI's default handler would abort without a word from galaxy).
int galaxy_mpi_errors_return(void);
int galaxy_mpi_comm_rank(int *rank);
int galaxy_mpi_comm_size(int *size);
int galaxy_mpi_finalized(int *finalized);
int galaxy_mpi_finalize(void);
int galaxy_mpi_abort(int code);
/// MPI_Allgather of `count` floats (or doubles when `doubles` is not 0) from every rank.
int galaxy_mpi_allgather(const void *send, void *receive, int count, int doubles);
int galaxy_mpi_bcast_doubles(void *buffer, int count, int root);
int galaxy_mpi_barrier(void);
/// MPI's text for `code` into `text` (`size` bytes, at most MPI_MAX_ERROR_STRING of it used).
void galaxy_mpi_error_string(int code, char *text, size_t size);

#endif
