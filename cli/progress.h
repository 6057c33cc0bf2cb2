#pragma once
// A small progress line for long runs: on a terminal it redraws one line on stderr at most ~15
// times a second (and honours NO_COLOR); elsewhere it prints a plain line every `plain_every`
// steps, so logs stay readable.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace grape::cli {

class Progress {
 public:
  Progress(std::string label, size_t total, size_t plain_every)
      : label_(std::move(label)), total_(total), plain_every_(plain_every ? plain_every : 1),
        tty_(isatty(STDERR_FILENO) != 0), color_(tty_ && std::getenv("NO_COLOR") == nullptr) {}

  void update(size_t done, size_t failed) {
    const auto now = std::chrono::steady_clock::now();
    if (tty_) {
      if (done != total_ && now - last_draw_ < std::chrono::milliseconds(66)) return;
      last_draw_ = now;
      const int width = 30;
      const int filled = total_ ? static_cast<int>(width * done / total_) : width;
      std::string bar(static_cast<size_t>(filled), '#');
      bar.resize(width, '.');
      const char* red = color_ && failed ? "\033[31m" : "";
      const char* reset = color_ && failed ? "\033[0m" : "";
      std::fprintf(stderr, "\r%s [%s] %zu/%zu  %s%zu failed%s ", label_.c_str(), bar.c_str(), done,
                   total_, red, failed, reset);
      if (done == total_) std::fputc('\n', stderr);
    } else if (done % plain_every_ == 0 || done == total_) {
      std::fprintf(stderr, "%s: %zu/%zu runs, %zu failed\n", label_.c_str(), done, total_, failed);
    }
    std::fflush(stderr);
  }

 private:
  std::string label_;
  size_t total_;
  size_t plain_every_;
  bool tty_;
  bool color_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace grape::cli
