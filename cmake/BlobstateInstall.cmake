# `cmake --install`: the public headers, libblobstate, the blobstate tool, a CMake package
# (find_package(blobstate) gives blobstate::blobstate) with its version file, and
# blobstate.pc. Everything is installed relative to the prefix, so the tree can be moved.
include(CMakePackageConfigHelpers)

set(BLOBSTATE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/blobstate)

# The headers of the parts this build leaves out are not installed.
set(exclude "")
foreach(part IN ITEMS PROMETHEUS_CPP S3 AZURE)
  string(TOLOWER ${part} header)
  if(NOT BLOBSTATE_${part})
    list(APPEND exclude PATTERN ${header}.h EXCLUDE)
  endif()
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/blobstate
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} ${exclude})
install(TARGETS blobstate_lib EXPORT blobstateTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET blobstate)
  install(TARGETS blobstate RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(EXPORT blobstateTargets NAMESPACE blobstate:: DESTINATION ${BLOBSTATE_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/blobstateConfig.cmake.in
  ${PROJECT_BINARY_DIR}/blobstateConfig.cmake INSTALL_DESTINATION ${BLOBSTATE_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/blobstateConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/blobstateConfig.cmake
              ${PROJECT_BINARY_DIR}/blobstateConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/BlobstateDependencies.cmake
        DESTINATION ${BLOBSTATE_CMAKE_DIR})

# pkg-config: the users of a static libblobstate link the libraries it uses (Requires); a
# shared one links them itself (Requires.private).
set(BLOBSTATE_PC_REQUIRES "rocksdb libxxhash libcrypto")
if(BLOBSTATE_PROMETHEUS_CPP)
  string(APPEND BLOBSTATE_PC_REQUIRES " prometheus-cpp-core")
endif()
if(BLOBSTATE_S3 OR BLOBSTATE_AZURE)
  string(APPEND BLOBSTATE_PC_REQUIRES " libcurl")
endif()
if(BUILD_SHARED_LIBS)
  set(BLOBSTATE_PC_REQUIRES_FIELD Requires.private)
else()
  set(BLOBSTATE_PC_REQUIRES_FIELD Requires)
endif()
file(RELATIVE_PATH BLOBSTATE_PC_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
configure_file(${PROJECT_SOURCE_DIR}/cmake/blobstate.pc.in ${PROJECT_BINARY_DIR}/blobstate.pc
               @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/blobstate.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
