# mixerc's CMake package (installed as <prefix>/lib/cmake/mixerc): find_package(mixerc) gives
#   mixerc_add_model(TARGET SPEC [CPU_TARGET T] [TUNING_DB FILE] [OUTPUT_DIR DIR])
# which compiles SPEC with the installed mixerc at build time (again whenever SPEC changes) into
# DIR (default ${CMAKE_CURRENT_BINARY_DIR}/mixerc-<TARGET>) and defines TARGET, an imported
# shared library carrying the generated header and mixer/runtime.h: link it and include
# "<spec name>.h". CPU_TARGET is mixerc compile's --target (default: the spec's own, host).
# TUNING_DB is a database of `mixerc tune` (mixerc compile --tuning-db): its best records are
# applied, and the library is compiled again whenever the database changes (a new tune).
# Everything is found relative to this file, so the installed tree may be moved.
get_filename_component(MIXERC_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(MIXERC_EXECUTABLE "${MIXERC_PREFIX}/bin/mixerc")
set(MIXERC_INCLUDE_DIR "${MIXERC_PREFIX}/include")
if(NOT EXISTS "${MIXERC_EXECUTABLE}")
  set(mixerc_FOUND FALSE)
  set(mixerc_NOT_FOUND_MESSAGE "no mixerc executable at ${MIXERC_EXECUTABLE}")
  return()
endif()

function(mixerc_add_model target spec)
  cmake_parse_arguments(ARG "" "CPU_TARGET;TUNING_DB;OUTPUT_DIR" "" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "mixerc_add_model: unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  get_filename_component(spec "${spec}" ABSOLUTE)
  if(NOT EXISTS "${spec}")
    message(FATAL_ERROR "mixerc_add_model(${target}): no spec at ${spec}")
  endif()
  # The spec's name names the library and its header (lib<name>.so, <name>.h).
  file(STRINGS "${spec}" name_line REGEX "^[ \t]*name[ \t]*=")
  string(REGEX REPLACE "^[ \t]*name[ \t]*=[ \t]*\"([A-Za-z0-9_]+)\".*" "\\1" name "${name_line}")
  if(NOT name MATCHES "^[A-Za-z0-9_]+$")
    message(FATAL_ERROR "mixerc_add_model(${target}): ${spec} has no name = \"...\" line")
  endif()
  set(dir "${ARG_OUTPUT_DIR}")
  if(NOT dir)
    set(dir "${CMAKE_CURRENT_BINARY_DIR}/mixerc-${target}")
  endif()
  set(target_args)
  if(ARG_CPU_TARGET)
    set(target_args --target "${ARG_CPU_TARGET}")
  endif()
  set(tuning_depends)
  if(ARG_TUNING_DB)
    get_filename_component(tuning_db "${ARG_TUNING_DB}" ABSOLUTE)
    if(NOT EXISTS "${tuning_db}")
      message(FATAL_ERROR "mixerc_add_model(${target}): no tuning database at ${tuning_db} "
                          "(mixerc tune ${spec} --db ${tuning_db} makes one)")
    endif()
    list(APPEND target_args --tuning-db "${tuning_db}")
    set(tuning_depends "${tuning_db}")
  endif()
  file(MAKE_DIRECTORY "${dir}")
  add_custom_command(
    OUTPUT "${dir}/lib${name}.so" "${dir}/${name}.h"
    COMMAND "${MIXERC_EXECUTABLE}" compile "${spec}" -o "${dir}" ${target_args}
    DEPENDS "${spec}" "${MIXERC_EXECUTABLE}" ${tuning_depends}
    COMMENT "mixerc compile ${spec}"
    VERBATIM)
  add_custom_target(${target}_compile DEPENDS "${dir}/lib${name}.so" "${dir}/${name}.h")
  add_library(${target} SHARED IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES
    IMPORTED_LOCATION "${dir}/lib${name}.so"
    INTERFACE_INCLUDE_DIRECTORIES "${dir};${MIXERC_INCLUDE_DIR}")
  add_dependencies(${target} ${target}_compile)
endfunction()
