#pragma once
// `grape demo`: three real node processes on free 127.0.0.1 ports in a temporary directory,
// narrated: election, writes, kill -9 of the leader, a new leader with every acknowledged key
// still there, the old node restarted and caught up; then everything stopped and removed
// (`--keep` leaves the cluster running and says how to use and stop it).

namespace grape::cli {

struct DemoArgs {
  bool keep = false;
};
int real_demo(const DemoArgs& args);

}  // namespace grape::cli
