// The one translation unit that compiles Boost.Asio, Beast, JSON and URL (see
// BOOST_*_SEPARATE_COMPILATION in CMakeLists.txt). Every other file only includes
// their headers, which keeps incremental builds fast.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
