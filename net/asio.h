#pragma once
// The one way net/ includes Asio. Boost 1.74's Asio under g++ 12 in C++20 fails inside
// awaitable.hpp ("exchange is not a member of std") unless <utility> comes first, so every file
// includes Asio through this header. Keep it out of widely included headers: it costs ~15 s of
// compile time per translation unit on this machine.

#include <utility>

#include <boost/asio.hpp>
