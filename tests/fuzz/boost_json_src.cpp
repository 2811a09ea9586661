// Boost.JSON compiled into the fuzz targets (instrumented); see CMakeLists.txt.
#include <boost/json/src.hpp>
