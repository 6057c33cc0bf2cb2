// The `grape` program: parses the command line, calls sim/ or net/, prints. No logic of its own.
// Exit codes: 0 success, 1 a check or request failed, 2 bad input.

#include <iostream>

#include <CLI/CLI.hpp>

#include "core/base/version.h"
#include "sim/demo.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitCheckFailed = 1;
constexpr int kExitBadInput = 2;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"grape: the distributed layer of the Grape vector database (Raft, sharding, "
               "deterministic simulation)",
               "grape"};
  app.set_version_flag("--version", std::string("grape ") + grape::kVersion);
  app.require_subcommand(1);

  uint64_t demo_seed = 1;
  CLI::App* demo = app.add_subcommand(
      "demo", "Run a simulated 5-node cluster through a leader crash and a partition, and tell "
              "what happens");
  demo->add_option("--seed", demo_seed, "Seed of the simulated run (same seed, same run)")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints which flag or argument is wrong
    return kExitBadInput;
  }

  if (demo->parsed()) {
    const grape::sim::DemoResult result = grape::sim::run_demo(std::cout, demo_seed);
    return result.safe ? kExitOk : kExitCheckFailed;
  }
  return kExitOk;
}
