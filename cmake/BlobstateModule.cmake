# blobstate_module(<name> SOURCES ... [TESTS ...] [DEPS <modules>...] [LIBS <targets>...])
#
# A module (src/<name>/, README "Layout") is an object library, blobstate_<name>,
# whose objects go into libblobstate (src/CMakeLists.txt). Its sources see the public
# headers (include/) and, of src/, only the folders of the module itself and of the modules
# it depends on (DEPS, and theirs in turn): a generated include directory holds links to
# just those folders, so an include of any other module's header fails to build. LIBS are
# the external libraries it uses; libblobstate links them. Its tests (foo_test.cc beside
# foo.cc) go into the one test binary (tests/CMakeLists.txt).
set(BLOBSTATE_TEST_SOURCES "" CACHE INTERNAL "")
set(BLOBSTATE_LIBS "" CACHE INTERNAL "")

function(blobstate_module name)
  cmake_parse_arguments(M "" "" "SOURCES;TESTS;DEPS;LIBS" ${ARGN})
  add_library(blobstate_${name} OBJECT ${M_SOURCES})
  set(visible ${name})
  foreach(dep ${M_DEPS})
    get_property(dep_visible GLOBAL PROPERTY BLOBSTATE_VISIBLE_${dep} SET)
    if(NOT dep_visible)
      message(FATAL_ERROR "module ${name}: ${dep} is not a module declared before it")
    endif()
    get_property(dep_visible GLOBAL PROPERTY BLOBSTATE_VISIBLE_${dep})
    list(APPEND visible ${dep_visible})
  endforeach()
  list(REMOVE_DUPLICATES visible)
  set_property(GLOBAL PROPERTY BLOBSTATE_VISIBLE_${name} ${visible})

  set(view ${PROJECT_BINARY_DIR}/module-include/${name})
  file(REMOVE_RECURSE ${view})
  file(MAKE_DIRECTORY ${view})
  foreach(module ${visible})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${module} ${view}/${module} SYMBOLIC)
  endforeach()
  target_include_directories(blobstate_${name} PRIVATE ${view}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>)
  target_link_libraries(blobstate_${name} PUBLIC ${M_LIBS})
  set_target_properties(blobstate_${name} PROPERTIES POSITION_INDEPENDENT_CODE ${BUILD_SHARED_LIBS}
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)

  set(BLOBSTATE_LIBS ${BLOBSTATE_LIBS} ${M_LIBS} CACHE INTERNAL "")
  list(TRANSFORM M_TESTS PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/)
  set(BLOBSTATE_TEST_SOURCES ${BLOBSTATE_TEST_SOURCES} ${M_TESTS} CACHE INTERNAL "")
endfunction()
