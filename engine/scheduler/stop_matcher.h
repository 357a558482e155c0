// Stop strings over a stream of text: generation ends before the first occurrence of any of
// them, and no text that could still turn out to be the start of one is released early.
//
//   StopMatcher m({"\n\n", "User:"});
//   out += m.push(piece);   // for each piece of generated text, in order
//   if (m.stopped()) ...    // a stop string completed: everything from it on was dropped
//   out += m.flush();       // at the end: the held-back text, which did not become a stop string
//
// Matching is on bytes. Pieces and stop strings that are whole UTF-8 characters give releases
// that are whole characters too: a match or a held-back tail starts at a stop string's first
// byte, which is a lead byte.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

class StopMatcher {
 public:
  StopMatcher() = default;
  // Empty strings are ignored.
  explicit StopMatcher(std::vector<std::string> stops);

  // Adds generated text; returns the part that can be released now. Once stopped(), the text
  // after the stop string and every later push is dropped.
  std::string push(std::string_view text);
  // The end of the stream: releases what was held back (nothing once stopped()).
  std::string flush();

  bool stopped() const { return stopped_; }
  bool empty() const { return stops_.empty(); }
  // Bytes held back now (a proper prefix of some stop string).
  size_t held() const { return held_.size(); }

 private:
  std::vector<std::string> stops_;
  size_t max_len_ = 0;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace strata
