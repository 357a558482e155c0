// Printing JSON documents for --json output.
#pragma once

#include <boost/json.hpp>
#include <cstdio>
#include <string>

namespace strata::cli {

inline void print_json(const boost::json::value& v) {
  std::string s = boost::json::serialize(v);
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace strata::cli
