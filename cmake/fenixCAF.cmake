# CAF 0.17 (Debian libcaf-dev) ships no CMake package: find its headers and
# libraries and create the imported targets CAF::core, CAF::io and
# CAF::openssl, unless someone (a parent project) already did.
# Used by fenix's own CMakeLists.txt and installed next to fenixConfig.cmake.
# Set FENIX_CAF_GLOBAL before including to make the targets global.
if(TARGET CAF::core AND TARGET CAF::io AND TARGET CAF::openssl)
  return()
endif()
find_path(CAF_INCLUDE_DIR caf/all.hpp)
find_library(CAF_CORE_LIB caf_core)
find_library(CAF_IO_LIB caf_io)
find_library(CAF_OPENSSL_LIB caf_openssl)
if(NOT CAF_INCLUDE_DIR OR NOT CAF_CORE_LIB OR NOT CAF_IO_LIB
   OR NOT CAF_OPENSSL_LIB)
  set(_fenix_caf_msg "CAF 0.17 not found (caf/all.hpp, libcaf_core, libcaf_io, \
libcaf_openssl); on Debian: apt-get install libcaf-dev, or set CAF_INCLUDE_DIR \
and CAF_CORE_LIB/CAF_IO_LIB/CAF_OPENSSL_LIB")
  if(DEFINED CMAKE_FIND_PACKAGE_NAME)
    # Inside find_package(fenix): fail the package, not the whole configure.
    set(${CMAKE_FIND_PACKAGE_NAME}_FOUND FALSE)
    set(${CMAKE_FIND_PACKAGE_NAME}_NOT_FOUND_MESSAGE "${_fenix_caf_msg}")
    return()
  endif()
  message(FATAL_ERROR "${_fenix_caf_msg}")
endif()
if(FENIX_CAF_GLOBAL)
  set(_fenix_caf_scope GLOBAL)
else()
  set(_fenix_caf_scope "")
endif()
if(NOT TARGET CAF::core)
  add_library(CAF::core SHARED IMPORTED ${_fenix_caf_scope})
  set_target_properties(CAF::core PROPERTIES IMPORTED_LOCATION ${CAF_CORE_LIB}
    INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR}
    INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
if(NOT TARGET CAF::io)
  add_library(CAF::io SHARED IMPORTED ${_fenix_caf_scope})
  set_target_properties(CAF::io PROPERTIES IMPORTED_LOCATION ${CAF_IO_LIB}
    INTERFACE_LINK_LIBRARIES CAF::core)
endif()
if(NOT TARGET CAF::openssl)
  add_library(CAF::openssl SHARED IMPORTED ${_fenix_caf_scope})
  set_target_properties(CAF::openssl PROPERTIES
    IMPORTED_LOCATION ${CAF_OPENSSL_LIB}
    INTERFACE_LINK_LIBRARIES "CAF::io;OpenSSL::SSL;OpenSSL::Crypto")
endif()
