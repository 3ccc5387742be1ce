#ifndef GALAXY_CMPI_SHIM_H
#define GALAXY_CMPI_SHIM_H
#include <mpi.h>

// MPI's predefined handles are macros (addresses of library globals in Open MPI, integer
// constants in MPICH), which Swift cannot import: one function per handle galaxy uses.
static inline MPI_Comm galaxy_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype galaxy_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype galaxy_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype galaxy_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op galaxy_mpi_max(void) { return MPI_MAX; }
static inline int galaxy_mpi_success(void) { return MPI_SUCCESS; }
static inline int galaxy_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
// Errors come back as return codes (the default handler would abort without a word from galaxy).
static inline int galaxy_mpi_errors_return(void) { return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN); }
#endif
