# The libraries libblobstate uses, as imported targets. Included by the build and, installed,
# by blobstateConfig.cmake (where a static libblobstate's users need them at link time).
# Reads BLOBSTATE_S3, BLOBSTATE_AZURE and BLOBSTATE_PROMETHEUS_CPP; defines blobstate_deps::rocksdb and, when the
# system has no CMake package for it (Debian has none), xxHash::xxhash.
include(CMakeFindDependencyMacro)

# find_package inside find_package(blobstate) (reporting failure as blobstate not found),
# find_package(... REQUIRED) in the build.
macro(blobstate_find_dependency)
  if(CMAKE_FIND_PACKAGE_NAME STREQUAL "blobstate")
    find_dependency(${ARGN})
  else()
    find_package(${ARGN} REQUIRED)
  endif()
endmacro()

# A dependency `what` is missing: a fatal error in the build, blobstate not found in
# find_package(blobstate). A macro, so that its return() leaves this file.
macro(blobstate_dependency_missing what)
  set(blobstate_NOT_FOUND_MESSAGE "${what} not found")
  if(NOT CMAKE_FIND_PACKAGE_NAME STREQUAL "blobstate")
    message(FATAL_ERROR ${blobstate_NOT_FOUND_MESSAGE})
  endif()
  set(blobstate_FOUND FALSE)
  return()
endmacro()

set(THREADS_PREFER_PTHREAD_FLAG ON)
blobstate_find_dependency(Threads)
if(BLOBSTATE_PROMETHEUS_CPP)
  blobstate_find_dependency(prometheus-cpp CONFIG)
endif()
blobstate_find_dependency(OpenSSL)
if(BLOBSTATE_S3 OR BLOBSTATE_AZURE)
  blobstate_find_dependency(CURL)
endif()

# blobstate_deps::rocksdb: the shared librocksdb (Debian's CMake package makes
# RocksDB::rocksdb the static one, which a shared libblobstate cannot take in), else the one
# rocksdb.pc names.
if(NOT TARGET blobstate_deps::rocksdb)
  find_package(RocksDB CONFIG QUIET)
  if(TARGET RocksDB::rocksdb-shared)
    set(blobstate_rocksdb RocksDB::rocksdb-shared)
  elseif(TARGET RocksDB::rocksdb)
    set(blobstate_rocksdb RocksDB::rocksdb)
  else()
    blobstate_find_dependency(PkgConfig)
    pkg_check_modules(BLOBSTATE_ROCKSDB QUIET IMPORTED_TARGET rocksdb)
    if(NOT BLOBSTATE_ROCKSDB_FOUND)
      blobstate_dependency_missing("RocksDB (a CMake package or rocksdb.pc)")
    endif()
    set(blobstate_rocksdb PkgConfig::BLOBSTATE_ROCKSDB)
  endif()
  add_library(blobstate_deps::rocksdb INTERFACE IMPORTED)
  target_link_libraries(blobstate_deps::rocksdb INTERFACE ${blobstate_rocksdb})
endif()

if(NOT TARGET xxHash::xxhash)
  find_path(BLOBSTATE_XXHASH_INCLUDE_DIR xxhash.h)
  find_library(BLOBSTATE_XXHASH_LIBRARY xxhash)
  if(NOT BLOBSTATE_XXHASH_INCLUDE_DIR OR NOT BLOBSTATE_XXHASH_LIBRARY)
    blobstate_dependency_missing("xxHash (xxhash.h, libxxhash)")
  endif()
  add_library(xxHash::xxhash UNKNOWN IMPORTED)
  set_target_properties(xxHash::xxhash PROPERTIES
    IMPORTED_LOCATION ${BLOBSTATE_XXHASH_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${BLOBSTATE_XXHASH_INCLUDE_DIR})
endif()
