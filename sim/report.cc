#include "sim/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/raft/types.h"

// The page is built in two passes: the trace and the history are first folded into a timeline
// model (spans, marks and thinned commit ticks per row, in nanoseconds), then the model is drawn
// as SVG against one horizontal scale. Every element whose position depends on time carries its
// x as an `x`, `x1`/`x2` or `width` attribute of a direct child of the timeline <svg>; the zoom
// script rescales exactly those attributes, so text inside nested <svg> boxes keeps its size.

namespace grape::sim {
namespace {

// ----- geometry (pixels at zoom 1) -----

constexpr double kPxPerMs = 0.12;  // a 10 s run is 1200 px wide, a 60 s run 7200 px
constexpr double kWidthMin = 1200;
constexpr double kWidthMax = 9000;
constexpr double kLabelWidth = 92;
constexpr double kRightPad = 40;      // room for the last axis label
constexpr double kBannerHeight = 24;  // the first violation's label
constexpr double kAxisHeight = 18;
constexpr double kNetLaneHeight = 17;
constexpr double kNetMarkHeight = 14;
constexpr double kNodeRowHeight = 34;  // group strip 1..5, band 7..25, commit ticks 27..33
constexpr double kBandTop = 7;
constexpr double kBandHeight = 18;
constexpr double kOpLaneHeight = 16;
constexpr double kTailLaneHeight = 5;
constexpr size_t kTailLanesMax = 4;  // info ops beyond this share the lanes
constexpr size_t kEventRowsMax = 3000;
constexpr size_t kLabelDetailMax = 110;  // characters of violation detail drawn on the timeline
constexpr double kLabelCharPx = 6.6;     // about, for the 12 px violation label

// ----- text -----

// The length of the well-formed UTF-8 sequence of a printable character at text[i], or 0.
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size() || byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  if (lead == 0xC2 && byte(i + 1) <= 0x9F) return 0;  // C1 controls U+0080..U+009F
  return length;
}

void append_hex_byte(std::string& out, unsigned char c) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += "\\x";
  out += kDigits[c >> 4];
  out += kDigits[c & 0xF];
}

// A key or value as a quoted literal: "k\x01" (backslash and quote escaped, unprintable bytes as
// \xNN). The result still needs escape_html.
std::string quote_value(std::string_view value) {
  std::string out = "\"";
  for (size_t i = 0; i < value.size();) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x80) {
      const size_t length = utf8_sequence_length(value, i);
      if (length == 0) {
        append_hex_byte(out, c);
        ++i;
      } else {
        out.append(value.substr(i, length));
        i += length;
      }
      continue;
    }
    if (c == '\\' || c == '"') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      append_hex_byte(out, c);
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  return out + "\"";
}

std::string quote_optional(const std::optional<std::string>& value) {
  return value ? quote_value(*value) : std::string("(absent)");
}

// Milliseconds with up to three decimals, trailing zeros dropped: "1200", "1203.25".
std::string fmt_ms(int64_t ns) {
  std::string sign = ns < 0 ? "-" : "";
  const int64_t us = (std::max(ns, -ns) + 500) / 1000;
  std::string text = sign + std::to_string(us / 1000);
  if (us % 1000 != 0) {
    char fraction[8];
    std::snprintf(fraction, sizeof fraction, ".%03d", static_cast<int>(us % 1000));
    text += fraction;
    while (text.back() == '0') text.pop_back();
  }
  return text;
}

// A pixel coordinate with one decimal: "12.5", "300".
std::string fmt_px(double x) {
  const long long tenths = std::llround(x * 10);
  const long long magnitude = tenths < 0 ? -tenths : tenths;
  std::string text = (tenths < 0 ? "-" : "") + std::to_string(magnitude / 10);
  if (magnitude % 10 != 0) text += "." + std::to_string(magnitude % 10);
  return text;
}

std::string range_text(int64_t from, int64_t to) {
  return fmt_ms(from) + " \u2192 " + fmt_ms(to) + " ms (" + fmt_ms(to - from) + " ms)";
}

std::string node_name(uint64_t id) { return "n" + std::to_string(id); }

std::string truncate(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t cut = max;
  // Do not split a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "\u2026";
}

std::string_view kind_name(TraceKind kind) {
  switch (kind) {
    case TraceKind::kRoleChange:
      return "role_change";
    case TraceKind::kCrash:
      return "crash";
    case TraceKind::kRestart:
      return "restart";
    case TraceKind::kPause:
      return "pause";
    case TraceKind::kResume:
      return "resume";
    case TraceKind::kPartition:
      return "partition";
    case TraceKind::kCut:
      return "cut";
    case TraceKind::kHeal:
      return "heal";
    case TraceKind::kLinkChange:
      return "link_change";
    case TraceKind::kDiskFault:
      return "disk_fault";
    case TraceKind::kDrift:
      return "drift";
    case TraceKind::kCommit:
      return "commit";
    case TraceKind::kNoOp:
      return "no_op";
    case TraceKind::kViolation:
      return "violation";
    case TraceKind::kNote:
      return "note";
  }
  return "unknown";
}

// ----- the horizontal scale -----

struct Scale {
  int64_t span_ns = 1;  // > 0
  double width = kWidthMin;
  double x(int64_t ns) const {
    return width * static_cast<double>(ns) / static_cast<double>(span_ns);
  }
};

// The run's extent: its end, or the latest thing recorded if that is later (at least 1 ms).
Scale make_scale(const RunRecord& run) {
  int64_t span = std::max<int64_t>(run.end.ns, 1'000'000);
  for (const TraceEvent& e : run.events) span = std::max(span, e.at.ns);
  for (const Operation& op : run.history.ops) {
    span = std::max({span, op.invoked.ns, op.completed.ns});
  }
  for (const Violation& v : run.violations) span = std::max(span, v.at.ns);
  const double width = std::clamp(static_cast<double>(span) / 1e6 * kPxPerMs, kWidthMin, kWidthMax);
  return Scale{span, width};
}

// ----- the timeline model -----

struct Span {
  int64_t from = 0;
  int64_t to = 0;
  std::string cls;    // CSS class
  std::string title;  // tooltip (raw text)
  std::string label;  // drawn inside when it fits
};

struct Mark {
  int64_t at = 0;
  std::string shape;  // a path id in <defs>
  std::string cls;
  std::string title;
};

// Consecutive commits of one node that fall in one pixel column at zoom 1.
struct CommitTick {
  int64_t first_at = 0;
  int64_t last_at = 0;
  uint64_t first_index = 0;
  uint64_t last_index = 0;
  size_t count = 0;
  long long column = 0;
};

struct NodeRow {
  std::vector<Span> bands;     // role and term over time, while up
  std::vector<Span> overlays;  // down and paused
  std::vector<Span> strips;    // which side of a partition or cut it is on
  std::vector<Mark> marks;
  std::vector<CommitTick> commits;
};

struct NetRow {
  std::vector<Span> spans;    // partitions and cuts
  std::vector<size_t> lanes;  // lanes[i]: the lane of spans[i]
  size_t lane_count = 1;
  std::vector<Mark> marks;
};

struct Stats {
  size_t elections = 0;
  size_t crashes = 0;
  size_t network_faults = 0;
  size_t commits = 0;
  uint64_t max_term = 0;
  uint64_t commit_index = 0;
};

struct Timeline {
  std::map<uint64_t, NodeRow> nodes;  // by node id
  NetRow net;
  std::vector<Span> shades;  // partitions and cuts, shaded across every node row
  Stats stats;
};

// The node ids named inside braces: "{n1,n2} {n3}" -> {{1, 2}, {3}}.
std::vector<std::vector<uint64_t>> parse_groups(std::string_view detail) {
  std::vector<std::vector<uint64_t>> groups;
  size_t pos = 0;
  while (true) {
    const size_t open = detail.find('{', pos);
    if (open == std::string_view::npos) break;
    const size_t close = detail.find('}', open);
    if (close == std::string_view::npos) break;
    std::vector<uint64_t> group;
    for (size_t i = open + 1; i < close; ++i) {
      const bool starts = detail[i] == 'n' && i + 1 < close && detail[i + 1] >= '0' &&
                          detail[i + 1] <= '9' &&
                          (i == open + 1 || detail[i - 1] == ',' || detail[i - 1] == ' ');
      if (!starts) continue;
      uint64_t id = 0;
      for (++i; i < close && detail[i] >= '0' && detail[i] <= '9'; ++i) {
        id = id * 10 + static_cast<uint64_t>(detail[i] - '0');
      }
      group.push_back(id);
    }
    groups.push_back(std::move(group));
    pos = close + 1;
  }
  return groups;
}

// Folds the trace, in time order, into the timeline model.
class TimelineBuilder {
 public:
  TimelineBuilder(const RunRecord& run, const Scale& scale) : run_(run), scale_(scale) {
    for (uint64_t id = 1; id <= run.nodes; ++id) state_of(id, 0);
  }

  Timeline build() {
    for (const TraceEvent& e : run_.events) on_event(e);
    finish(std::max(run_.end.ns, scale_.span_ns));
    return std::move(timeline_);
  }

 private:
  struct NodeState {
    bool up = true;
    raft::Role role = raft::Role::kFollower;
    uint64_t term = 0;
    uint64_t leader = 0;
    int64_t since = 0;  // start of the current band (up) or down span (down)
    bool paused = false;
    int64_t paused_since = 0;
    std::string pause_detail;
  };
  struct OpenStrip {
    uint64_t node = 0;
    Span span;
  };

  NodeState& state_of(uint64_t id, int64_t at) {
    auto [it, inserted] = states_.try_emplace(id);
    if (inserted) {
      it->second.since = at;
      timeline_.nodes.try_emplace(id);
    }
    return it->second;
  }

  void on_event(const TraceEvent& e) {
    if (e.node != kNoNode) {
      state_of(e.node.value, e.at.ns);
    } else if (is_about_a_node(e.kind)) {  // malformed: keep it visible, on the network row
      return add_mark(e, "dot", "mt", std::string(kind_name(e.kind)) + " naming no node");
    }
    switch (e.kind) {
      case TraceKind::kRoleChange:
        return on_role_change(e);
      case TraceKind::kCrash:
        return on_crash(e);
      case TraceKind::kRestart:
        return on_restart(e);
      case TraceKind::kPause:
        return on_pause(e);
      case TraceKind::kResume:
        return on_resume(e);
      case TraceKind::kPartition:
      case TraceKind::kCut:
        return on_network_fault(e);
      case TraceKind::kHeal:
        return on_heal(e);
      case TraceKind::kCommit:
        return on_commit(e);
      case TraceKind::kLinkChange:
        return add_mark(e, "dia", "ml", "link change");
      case TraceKind::kDiskFault:
        return add_mark(e, "sq", "md", "disk fault");
      case TraceKind::kDrift:
        return add_mark(e, "up", "mr", "clock drift");
      case TraceKind::kNoOp:
        return add_mark(e, "dot", "mn", "fault did not apply");
      case TraceKind::kViolation:
        return add_mark(e, "x", "mv", "violation");
      case TraceKind::kNote:
        return add_mark(e, "dot", "mt", "note");
    }
  }

  static bool is_about_a_node(TraceKind kind) {
    switch (kind) {
      case TraceKind::kRoleChange:
      case TraceKind::kCrash:
      case TraceKind::kRestart:
      case TraceKind::kPause:
      case TraceKind::kResume:
      case TraceKind::kCommit:
        return true;
      default:
        return false;
    }
  }

  void close_band(uint64_t id, NodeState& s, int64_t at) {
    if (!s.up || at <= s.since) return;
    static constexpr const char* kClasses[] = {"bf", "bp", "bc", "bl"};
    Span band{s.since, at, kClasses[std::min<size_t>(static_cast<size_t>(s.role), 3)], "", ""};
    band.title = node_name(id) + " \u00b7 " + std::string(raft::to_string(s.role)) +
                 " \u00b7 term " + std::to_string(s.term) + "\n" + range_text(s.since, at);
    if (s.role == raft::Role::kFollower && s.leader != 0) {
      band.title += "\nknows leader " + node_name(s.leader);
    }
    if (s.role == raft::Role::kLeader) band.label = std::to_string(s.term);
    timeline_.nodes[id].bands.push_back(std::move(band));
  }

  void on_role_change(const TraceEvent& e) {
    const uint64_t id = e.node.value;
    NodeState& s = state_of(id, e.at.ns);
    if (!s.up) end_down(id, s, e.at.ns);  // a role change means it is running
    close_band(id, s, e.at.ns);
    const bool elected =
        e.role == raft::Role::kLeader && (s.role != raft::Role::kLeader || s.term != e.term.value);
    s.role = e.role;
    s.term = e.term.value;
    s.leader = e.leader.value;
    s.since = e.at.ns;
    timeline_.stats.max_term = std::max(timeline_.stats.max_term, s.term);
    if (elected) {
      ++timeline_.stats.elections;
      timeline_.nodes[id].marks.push_back({e.at.ns, "tri", "me",
                                           node_name(id) + " elected leader of term " +
                                               std::to_string(s.term) + " at " + fmt_ms(e.at.ns) +
                                               " ms"});
    }
  }

  void end_pause(uint64_t id, NodeState& s, int64_t at, const std::string& how) {
    if (!s.paused) return;
    s.paused = false;
    std::string title = node_name(id) + " paused";
    if (!s.pause_detail.empty()) title += " (" + s.pause_detail + ")";
    title += "\n" + range_text(s.paused_since, at) + "\n" + how;
    timeline_.nodes[id].overlays.push_back({s.paused_since, at, "ps", title, "paused"});
  }

  void end_down(uint64_t id, NodeState& s, int64_t at) {
    timeline_.nodes[id].overlays.push_back(
        {s.since, at, "dn",
         node_name(id) + " down (crashed)\n" + range_text(s.since, at) +
             (at >= scale_.span_ns ? "\nstill down when the run stopped" : "\nthen restarted"),
         "down"});
    s.up = true;
    s.role = raft::Role::kFollower;  // a restarted node comes back as a follower
    s.leader = 0;
    s.since = at;
  }

  void on_crash(const TraceEvent& e) {
    const uint64_t id = e.node.value;
    NodeState& s = state_of(id, e.at.ns);
    if (!s.up) return;
    ++timeline_.stats.crashes;
    close_band(id, s, e.at.ns);
    end_pause(id, s, e.at.ns, "then crashed");
    s.up = false;
    s.since = e.at.ns;
  }

  void on_restart(const TraceEvent& e) {
    NodeState& s = state_of(e.node.value, e.at.ns);
    if (!s.up) end_down(e.node.value, s, e.at.ns);
  }

  void on_pause(const TraceEvent& e) {
    NodeState& s = state_of(e.node.value, e.at.ns);
    if (!s.up || s.paused) return;
    s.paused = true;
    s.paused_since = e.at.ns;
    s.pause_detail = e.detail;
  }

  void on_resume(const TraceEvent& e) {
    end_pause(e.node.value, state_of(e.node.value, e.at.ns), e.at.ns, "then resumed");
  }

  void on_network_fault(const TraceEvent& e) {
    const bool partition = e.kind == TraceKind::kPartition;
    ++timeline_.stats.network_faults;
    const std::string what = partition ? "partition" : "cut";
    // The lowest lane that no open span holds.
    size_t lane = 0;
    while (std::any_of(open_spans_.begin(), open_spans_.end(),
                       [&](size_t i) { return timeline_.net.lanes[i] == lane; })) {
      ++lane;
    }
    NetRow& net = timeline_.net;
    open_spans_.push_back(net.spans.size());
    net.spans.push_back(
        {e.at.ns, e.at.ns, partition ? "np" : "nc", what + " " + e.detail, what + " " + e.detail});
    net.lanes.push_back(lane);
    net.lane_count = std::max(net.lane_count, lane + 1);
    open_shades_.push_back(timeline_.shades.size());
    timeline_.shades.push_back({e.at.ns, e.at.ns, partition ? "shp" : "shc", "", ""});
    open_strips(e, partition);
  }

  // Each node named by the fault gets a strip coloured by its side.
  void open_strips(const TraceEvent& e, bool partition) {
    std::vector<std::vector<uint64_t>> groups = parse_groups(e.detail);
    if (groups.empty()) return;
    if (partition) {  // unlisted nodes form one more group
      std::vector<uint64_t> rest;
      for (const auto& [id, state] : states_) {
        const bool listed = std::any_of(groups.begin(), groups.end(), [&](const auto& g) {
          return std::find(g.begin(), g.end(), id) != g.end();
        });
        if (!listed) rest.push_back(id);
      }
      if (!rest.empty()) groups.push_back(std::move(rest));
    }
    for (size_t g = 0; g < groups.size(); ++g) {
      std::string cls =
          partition ? (g < 4 ? "g" + std::to_string(g) : "gx") : (g == 0 ? "cf" : "ct");
      for (uint64_t id : groups[g]) {
        state_of(id, e.at.ns);
        std::string title = partition ? node_name(id) + " is on side " + std::to_string(g + 1) +
                                            " of partition " + e.detail
                                      : node_name(id) +
                                            (g == 0 ? ": its messages to "
                                                    : ": messages "
                                                      "to it from ") +
                                            "the other side are lost (cut " + e.detail + ")";
        strips_.push_back({id, {e.at.ns, e.at.ns, cls, title, ""}});
      }
    }
  }

  void close_network_faults(int64_t at, const std::string& how) {
    for (size_t i : open_spans_) {
      Span& span = timeline_.net.spans[i];
      span.to = at;
      span.title += "\n" + range_text(span.from, at) + "\n" + how;
    }
    for (size_t i : open_shades_) timeline_.shades[i].to = at;
    for (OpenStrip& strip : strips_) {
      strip.span.to = at;
      strip.span.title += "\n" + range_text(strip.span.from, at);
      timeline_.nodes[strip.node].strips.push_back(std::move(strip.span));
    }
    open_spans_.clear();
    open_shades_.clear();
    strips_.clear();
  }

  void on_heal(const TraceEvent& e) {
    const bool nothing_open = open_spans_.empty();
    close_network_faults(e.at.ns, "healed at " + fmt_ms(e.at.ns) + " ms");
    std::string title = "heal at " + fmt_ms(e.at.ns) + " ms";
    if (!e.detail.empty()) title += ": " + e.detail;
    if (nothing_open) title += "\n(nothing was partitioned or cut)";
    timeline_.net.marks.push_back({e.at.ns, "dot", "mh", title});
  }

  void on_commit(const TraceEvent& e) {
    ++timeline_.stats.commits;
    timeline_.stats.commit_index = std::max(timeline_.stats.commit_index, e.index.value);
    std::vector<CommitTick>& ticks = timeline_.nodes[e.node.value].commits;
    const auto column = static_cast<long long>(std::floor(scale_.x(e.at.ns)));
    if (!ticks.empty() && ticks.back().column == column) {
      CommitTick& tick = ticks.back();
      tick.last_at = e.at.ns;
      tick.first_index = std::min(tick.first_index, e.index.value);
      tick.last_index = std::max(tick.last_index, e.index.value);
      ++tick.count;
      return;
    }
    ticks.push_back({e.at.ns, e.at.ns, e.index.value, e.index.value, 1, column});
  }

  // A node's event goes on its row, any other on the network row.
  void add_mark(const TraceEvent& e, const char* shape, const char* cls, const std::string& what) {
    std::string title = what;
    if (e.node != kNoNode) title += " on " + node_name(e.node.value);
    title += " at " + fmt_ms(e.at.ns) + " ms";
    if (!e.detail.empty()) title += "\n" + e.detail;
    Mark mark{e.at.ns, shape, cls, std::move(title)};
    if (e.node != kNoNode) {
      timeline_.nodes[e.node.value].marks.push_back(std::move(mark));
    } else {
      timeline_.net.marks.push_back(std::move(mark));
    }
  }

  void finish(int64_t end) {
    for (auto& [id, s] : states_) {
      if (s.up) {
        close_band(id, s, end);
        end_pause(id, s, end, "still paused when the run stopped");
      } else {
        end_down(id, s, end);
      }
    }
    close_network_faults(end, "not healed when the run stopped");
  }

  const RunRecord& run_;
  const Scale& scale_;
  Timeline timeline_;
  std::map<uint64_t, NodeState> states_;
  std::vector<size_t> open_spans_;   // into timeline_.net.spans
  std::vector<size_t> open_shades_;  // into timeline_.shades
  std::vector<OpenStrip> strips_;    // open
};

// ----- client operations -----

struct OpBar {
  const Operation* op = nullptr;
  int64_t from = 0;
  int64_t to = 0;
  size_t lane = 0;
  bool tail = false;  // an info op's "may take effect until the end" part
};

struct ClientRow {
  uint64_t process = 0;
  size_t lanes = 1;
  size_t tail_lanes = 0;
  std::vector<OpBar> bars;
  size_t counts[4] = {0, 0, 0, 0};  // by OpOutcome
};

bool is_unknown(const Operation& op) {
  return op.outcome == OpOutcome::kInfo || op.outcome == OpOutcome::kPending;
}

// One row per process. Answered ops are bars from invocation to completion; an unanswered (info)
// op is a hatched bar up to the process's next invocation, plus a thin tail to the end of the run
// on a lane of its own: it may take effect at any time after its invocation.
ClientRow make_client_row(uint64_t process, std::vector<const Operation*> ops, int64_t end) {
  ClientRow row;
  row.process = process;
  std::stable_sort(ops.begin(), ops.end(),
                   [](const Operation* a, const Operation* b) { return a->invoked < b->invoked; });
  std::vector<int64_t> lane_ends;
  size_t unknown = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    const Operation& op = *ops[i];
    ++row.counts[static_cast<size_t>(op.outcome)];
    int64_t to = end;
    if (!is_unknown(op)) {
      to = op.completed.ns;
    } else {
      for (size_t j = i + 1; j < ops.size(); ++j) {
        if (ops[j]->invoked.ns > op.invoked.ns) {
          to = ops[j]->invoked.ns;
          break;
        }
      }
    }
    to = std::max(to, op.invoked.ns);
    size_t lane = 0;
    while (lane < lane_ends.size() && lane_ends[lane] > op.invoked.ns) ++lane;
    if (lane == lane_ends.size()) lane_ends.push_back(0);
    lane_ends[lane] = to;
    row.bars.push_back({&op, op.invoked.ns, to, lane, false});
    if (is_unknown(op)) {
      row.bars.push_back({&op, op.invoked.ns, end, unknown % kTailLanesMax, true});
      ++unknown;
    }
  }
  row.lanes = std::max<size_t>(lane_ends.size(), 1);
  row.tail_lanes = std::min(unknown, kTailLanesMax);
  return row;
}

std::vector<ClientRow> make_client_rows(const History& history, int64_t end) {
  std::map<uint64_t, std::vector<const Operation*>> by_process;
  for (const Operation& op : history.ops) by_process[op.process].push_back(&op);
  std::vector<ClientRow> rows;
  for (auto& [process, ops] : by_process) {
    rows.push_back(make_client_row(process, std::move(ops), end));
  }
  return rows;
}

std::string op_summary(const Operation& op) {
  std::string text = std::string(to_string(op.kind)) + " key " + quote_value(op.key);
  switch (op.kind) {
    case OpKind::kPut:
      text += " value " + quote_optional(op.value);
      break;
    case OpKind::kCas:
      text += " expected " + quote_optional(op.expected) + " value " + quote_optional(op.value);
      break;
    case OpKind::kGet:
      if (op.outcome == OpOutcome::kOk) text += " \u2192 read " + quote_optional(op.value);
      break;
    case OpKind::kDelete:
      break;
  }
  return text;
}

// "op #12 · c1 · ok / put key "k6" value "v1" / 1 → 42 ms (41 ms)": the legend explains the
// outcomes, so the tooltips stay short (a run has thousands of them).
std::string op_title(const Operation& op, bool tail) {
  std::string title = "op #" + std::to_string(op.id) + " \u00b7 c" + std::to_string(op.process) +
                      " \u00b7 " + std::string(to_string(op.outcome));
  if (is_unknown(op)) title += ": no answer, may take effect any time after its invocation";
  title += "\n" + op_summary(op) + "\n";
  if (is_unknown(op)) {
    title += "invoked " + fmt_ms(op.invoked.ns) + " ms";
    if (tail) title += ", open until the end of the run";
  } else {
    title += range_text(op.invoked.ns, op.completed.ns);
  }
  return title;
}

// ----- vertical layout -----

struct Layout {
  double axis_y = kBannerHeight;  // top of the first axis
  double net_y = 0;
  double net_height = 0;
  double nodes_y = 0;
  double clients_axis_y = 0;  // 0: no client section
  std::vector<double> client_y;
  std::vector<double> client_height;
  double height = 0;
};

double client_row_height(const ClientRow& row) {
  double height = static_cast<double>(row.lanes) * kOpLaneHeight + 6;
  if (row.tail_lanes > 0) height += static_cast<double>(row.tail_lanes) * kTailLaneHeight + 2;
  return height;
}

Layout make_layout(const Timeline& timeline, const std::vector<ClientRow>& clients) {
  Layout layout;
  layout.net_y = layout.axis_y + kAxisHeight;
  layout.net_height =
      6 + static_cast<double>(timeline.net.lane_count) * kNetLaneHeight + kNetMarkHeight;
  layout.nodes_y = layout.net_y + layout.net_height + 4;
  double y = layout.nodes_y + static_cast<double>(timeline.nodes.size()) * kNodeRowHeight;
  if (!clients.empty()) {
    layout.clients_axis_y = y + 10;
    y = layout.clients_axis_y + kAxisHeight;
    for (const ClientRow& row : clients) {
      layout.client_y.push_back(y);
      layout.client_height.push_back(client_row_height(row));
      y += layout.client_height.back();
    }
  }
  layout.height = y + 10;
  return layout;
}

// ----- SVG drawing -----

void append_title(std::string& out, std::string_view title) {
  if (title.empty()) return;
  out += "<title>";
  out += escape_html(title);
  out += "</title>";
}

void draw_rect(std::string& out, double x, double y, double width, double height,
               std::string_view cls, std::string_view title) {
  out += "<rect x=\"" + fmt_px(x) + "\" y=\"" + fmt_px(y) + "\" width=\"" +
         fmt_px(std::max(width, 1.0)) + "\" height=\"" + fmt_px(height) + "\" class=\"";
  out += cls;
  out += '"';
  if (title.empty()) {
    out += "/>";
    return;
  }
  out += '>';
  append_title(out, title);
  out += "</rect>";
}

void draw_span(std::string& out, const Scale& scale, const Span& span, double y, double height) {
  const double x = scale.x(span.from);
  draw_rect(out, x, y, scale.x(span.to) - x, height, span.cls, span.title);
}

// Text clipped to a box: a nested <svg> whose x and width follow the zoom, its content does not.
void draw_clipped_text(std::string& out, double x, double y, double width, double height,
                       std::string_view cls, std::string_view text) {
  out += "<svg class=\"c\" x=\"" + fmt_px(x) + "\" y=\"" + fmt_px(y) + "\" width=\"" +
         fmt_px(width) + "\" height=\"" + fmt_px(height) + "\"><text x=\"4\" y=\"" +
         fmt_px(height / 2 + 4) + "\" class=\"";
  out += cls;
  out += "\">" + escape_html(text) + "</text></svg>";
}

void draw_mark(std::string& out, const Scale& scale, const Mark& mark, double y) {
  out += "<use href=\"#" + mark.shape + "\" x=\"" + fmt_px(scale.x(mark.at)) + "\" y=\"" +
         fmt_px(y) + "\" class=\"" + mark.cls + "\">";
  append_title(out, mark.title);
  out += "</use>";
}

// Tick spacing: the smallest 1-2-5 step in ms at least 90 px apart.
int64_t tick_step_ms(double px_per_ms) {
  int64_t step = 1;
  for (int k = 0; k < 30; ++k) {
    step = std::vector<int64_t>{1, 2, 5}[static_cast<size_t>(k % 3)];
    for (int e = 0; e < k / 3; ++e) step *= 10;
    if (static_cast<double>(step) * px_per_ms >= 90) break;
  }
  return step;
}

// The grid and axis at zoom 1; the script redraws both with the same rule when zooming.
void draw_grid_and_axes(std::string& out, const Scale& scale, const Layout& layout,
                        std::string& axes) {
  const double span_ms = static_cast<double>(scale.span_ns) / 1e6;
  const double px_per_ms = scale.width / span_ms;
  const int64_t step = tick_step_ms(px_per_ms);
  std::vector<double> axis_ys = {layout.axis_y};
  if (layout.clients_axis_y > 0) axis_ys.push_back(layout.clients_axis_y);
  out += "<g id=\"grid\">";
  axes += "<g id=\"axis\">";
  for (int64_t t = 0; static_cast<double>(t) <= span_ms; t += step) {
    const std::string x = fmt_px(static_cast<double>(t) * px_per_ms);
    out += "<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + fmt_px(layout.net_y) + "\" y2=\"" +
           fmt_px(layout.height) + "\" class=\"gl\"/>";
    for (double y : axis_ys) {
      axes += "<text x=\"" + x + "\" y=\"" + fmt_px(y + 13) + "\" class=\"ax" +
              (t == 0 ? " a0" : "") + "\">" + std::to_string(t) + " ms</text>";
    }
  }
  out += "</g>";
  axes += "</g>";
}

void draw_backgrounds(std::string& out, const Scale& scale, const Layout& layout,
                      const Timeline& timeline) {
  draw_rect(out, 0, layout.net_y, scale.width, layout.net_height, "rn", "");
  for (size_t i = 0; i < timeline.nodes.size(); ++i) {
    if (i % 2 == 1) {
      draw_rect(out, 0, layout.nodes_y + static_cast<double>(i) * kNodeRowHeight, scale.width,
                kNodeRowHeight, "rb", "");
    }
  }
  for (size_t i = 0; i < layout.client_y.size(); ++i) {
    if (i % 2 == 1) {
      draw_rect(out, 0, layout.client_y[i], scale.width, layout.client_height[i], "rb", "");
    }
  }
}

void draw_network_row(std::string& out, const Scale& scale, const Layout& layout,
                      const NetRow& net) {
  for (size_t i = 0; i < net.spans.size(); ++i) {
    const Span& span = net.spans[i];
    const double y = layout.net_y + 4 + static_cast<double>(net.lanes[i]) * kNetLaneHeight;
    const double x = scale.x(span.from);
    const double width = scale.x(span.to) - x;
    draw_rect(out, x, y, width, kNetLaneHeight - 2, span.cls, span.title);
    if (width >= 30) draw_clipped_text(out, x, y, width, kNetLaneHeight - 2, "nt", span.label);
  }
  const double mark_y = layout.net_y + layout.net_height - kNetMarkHeight / 2 - 1;
  for (const Mark& mark : net.marks) draw_mark(out, scale, mark, mark_y);
}

void draw_commits(std::string& out, const Scale& scale, const std::vector<CommitTick>& ticks,
                  double y) {
  for (const CommitTick& tick : ticks) {
    const std::string x = fmt_px(scale.x(tick.first_at) + 0.5);
    out += "<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + fmt_px(y) + "\" y2=\"" +
           fmt_px(y + 6) + "\" class=\"cm\">";
    std::string title = tick.count == 1 ? "commit index " + std::to_string(tick.last_index)
                                        : std::to_string(tick.count) + " commits, index " +
                                              std::to_string(tick.first_index) + "\u2013" +
                                              std::to_string(tick.last_index);
    title += " at " + (tick.count == 1
                           ? fmt_ms(tick.first_at) + " ms"
                           : fmt_ms(tick.first_at) + "\u2013" + fmt_ms(tick.last_at) + " ms");
    append_title(out, title);
    out += "</line>";
  }
}

void draw_node_row(std::string& out, const Scale& scale, const NodeRow& row, double y) {
  const double band_y = y + kBandTop;
  for (const Span& band : row.bands) {
    draw_span(out, scale, band, band_y, kBandHeight);
    const double x = scale.x(band.from);
    const double width = scale.x(band.to) - x;
    if (!band.label.empty() && width >= 14) {
      const std::string text = width >= 52 ? "term " + band.label : band.label;
      out += "<text x=\"" + fmt_px(x + width / 2) + "\" y=\"" + fmt_px(band_y + 13) +
             "\" class=\"tl\">" + text + "</text>";
    }
  }
  for (const Span& overlay : row.overlays) {
    draw_span(out, scale, overlay, band_y - 1, kBandHeight + 2);
    const double x = scale.x(overlay.from);
    const double width = scale.x(overlay.to) - x;
    if (width >= 44) {
      draw_clipped_text(out, x, band_y, width, kBandHeight, overlay.cls == "dn" ? "dt" : "pt",
                        overlay.label);
    }
  }
  for (const Span& strip : row.strips) draw_span(out, scale, strip, y + 1, 4);
  draw_commits(out, scale, row.commits, y + kBandTop + kBandHeight + 2);
  for (const Mark& mark : row.marks) {
    draw_mark(out, scale, mark, mark.shape == "tri" ? band_y : band_y + kBandHeight / 2);
  }
}

void draw_client_row(std::string& out, const Scale& scale, const ClientRow& row, double y) {
  static constexpr const char* kClasses[] = {"in", "ok", "fl", "in"};  // by OpOutcome
  const double tail_y = y + 3 + static_cast<double>(row.lanes) * kOpLaneHeight + 1;
  for (const OpBar& bar : row.bars) {
    const double x = scale.x(bar.from);
    const double width = scale.x(bar.to) - x;
    const std::string title = op_title(*bar.op, bar.tail);
    if (bar.tail) {
      draw_rect(out, x, tail_y + static_cast<double>(bar.lane) * kTailLaneHeight, width,
                kTailLaneHeight - 1, "it", title);
      continue;
    }
    const double bar_y = y + 3 + static_cast<double>(bar.lane) * kOpLaneHeight;
    draw_rect(out, x, bar_y, width, kOpLaneHeight - 2,
              kClasses[static_cast<size_t>(bar.op->outcome)], title);
    if (width >= 70) {
      draw_clipped_text(out, x, bar_y, width, kOpLaneHeight - 2, "ot",
                        std::string(to_string(bar.op->kind)) + " " + quote_value(bar.op->key));
    }
  }
}

void draw_violations(std::string& out, const Scale& scale, const Layout& layout,
                     const std::vector<Violation>& violations) {
  // Later violations first, so that the first one is drawn on top.
  for (size_t i = violations.size(); i-- > 0;) {
    const Violation& v = violations[i];
    const std::string x = fmt_px(scale.x(v.at.ns));
    const std::string title = std::string(i == 0 ? "first violation: " : "violation: ") +
                              v.property + " at " + fmt_ms(v.at.ns) + " ms" +
                              (v.node != kNoNode ? " on " + node_name(v.node.value) : "") + "\n" +
                              v.detail;
    out += "<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + fmt_px(i == 0 ? 3 : layout.net_y) +
           "\" y2=\"" + fmt_px(layout.height) + "\" class=\"" + (i == 0 ? "vl" : "vo") + "\">";
    append_title(out, title);
    out += "</line>";
  }
  if (violations.empty()) return;
  const Violation& first = violations.front();
  const double x = scale.x(first.at.ns);
  const std::string head = "\u2716 " + first.property + " at " + fmt_ms(first.at.ns) + " ms" +
                           (first.node != kNoNode ? " on " + node_name(first.node.value) : "");
  // The label goes on the side of the line where it fits, else on the roomier side with the
  // detail cut to fit (the script re-chooses when zooming; the header has the full text).
  const double room_right = scale.width + kRightPad - x - 8;
  const double room_left = x - 8;
  const double wanted =
      static_cast<double>(head.size() + 1 + std::min(first.detail.size(), kLabelDetailMax)) *
      kLabelCharPx;
  const bool to_left = wanted > room_right && (wanted <= room_left || room_left > room_right);
  const double room = to_left ? room_left : room_right;
  const auto detail_chars = static_cast<size_t>(
      std::max(0.0, room / kLabelCharPx - static_cast<double>(head.size()) - 1));
  out += "<svg id=\"vlabel\" x=\"" + fmt_px(x) + "\" y=\"0\" overflow=\"visible\"><text x=\"" +
         (to_left ? "-6" : "6") + "\" y=\"16\" class=\"vt" + (to_left ? " ve" : "") +
         "\"><tspan class=\"vp\">" + escape_html(head) + "</tspan> " +
         escape_html(truncate(first.detail, std::min(detail_chars, kLabelDetailMax))) +
         "</text></svg>";
}

void draw_defs(std::string& out) {
  out +=
      "<defs>"
      "<pattern id=\"hd\" width=\"7\" height=\"7\" patternUnits=\"userSpaceOnUse\" "
      "patternTransform=\"rotate(45)\"><rect width=\"7\" height=\"7\" fill=\"#6b7280\"/>"
      "<rect width=\"3.5\" height=\"7\" fill=\"#30353d\"/></pattern>"
      "<pattern id=\"hp\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
      "patternTransform=\"rotate(-45)\"><rect width=\"6\" height=\"6\" fill=\"#dbeafe\" "
      "fill-opacity=\".55\"/><rect width=\"2.5\" height=\"6\" fill=\"#1d4ed8\" "
      "fill-opacity=\".7\"/></pattern>"
      "<pattern id=\"hi\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
      "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#ffaa26\"/>"
      "<rect width=\"2.5\" height=\"6\" fill=\"#fff\" fill-opacity=\".6\"/></pattern>"
      "<path id=\"dia\" d=\"M0-5L5 0L0 5L-5 0Z\"/>"
      "<path id=\"sq\" d=\"M-4-4h8v8h-8Z\"/>"
      "<path id=\"up\" d=\"M-5 4L5 4L0-5Z\"/>"
      "<path id=\"tri\" d=\"M-6-1L6-1L0 7Z\"/>"
      "<path id=\"dot\" d=\"M-3.5 0a3.5 3.5 0 1 0 7 0a3.5 3.5 0 1 0-7 0\"/>"
      "<path id=\"x\" d=\"M-5-5L5 5M5-5L-5 5\"/>"
      "</defs>";
}

// The left column: one label per row, aligned with the timeline.
void draw_labels(std::string& out, const Layout& layout, const Timeline& timeline,
                 const std::vector<ClientRow>& clients) {
  out += "<svg class=\"labels\" width=\"" + fmt_px(kLabelWidth) + "\" height=\"" +
         fmt_px(layout.height) + "\">";
  const auto label = [&](double y, const std::string& text, const char* cls,
                         const std::string& title) {
    out += "<text x=\"" + fmt_px(kLabelWidth - 10) + "\" y=\"" + fmt_px(y) + "\" class=\"";
    out += cls;
    out += "\">" + escape_html(text);
    append_title(out, title);
    out += "</text>";
  };
  label(layout.axis_y + 13, "time", "lx", "virtual time since the start of the run");
  label(layout.net_y + layout.net_height / 2 + 4, "network", "ln",
        "partitions and cuts (until the next heal), link changes, heals, faults that did not "
        "apply");
  double y = layout.nodes_y;
  for (const auto& [id, row] : timeline.nodes) {
    label(y + kBandTop + 13, node_name(id), "ln",
          "node " + node_name(id) + ": role and term over time");
    y += kNodeRowHeight;
  }
  if (!clients.empty()) label(layout.clients_axis_y + 13, "clients", "lx", "client operations");
  for (size_t i = 0; i < clients.size(); ++i) {
    const ClientRow& row = clients[i];
    label(layout.client_y[i] + 15, "c" + std::to_string(row.process), "ln",
          "client c" + std::to_string(row.process) + ": " +
              std::to_string(row.counts[static_cast<size_t>(OpOutcome::kOk)]) + " ok, " +
              std::to_string(row.counts[static_cast<size_t>(OpOutcome::kFail)]) + " fail, " +
              std::to_string(row.counts[static_cast<size_t>(OpOutcome::kInfo)] +
                             row.counts[static_cast<size_t>(OpOutcome::kPending)]) +
              " info");
  }
  out += "</svg>";
}

void draw_timeline(std::string& out, const Scale& scale, const Layout& layout,
                   const Timeline& timeline, const std::vector<ClientRow>& clients,
                   const std::vector<Violation>& violations) {
  std::string axes;
  out += "<svg id=\"tl\" width=\"" + fmt_px(std::ceil(scale.width + kRightPad)) + "\" data-pad=\"" +
         fmt_px(kRightPad) + "\" height=\"" + fmt_px(layout.height) + "\" data-w=\"" +
         fmt_px(scale.width) + "\" data-ms=\"" + fmt_ms(scale.span_ns) + "\" data-ay=\"" +
         fmt_px(layout.axis_y + 13) +
         (layout.clients_axis_y > 0 ? "," + fmt_px(layout.clients_axis_y + 13) : "") +
         "\" data-gy=\"" + fmt_px(layout.net_y) + "\" data-v=\"" +
         (violations.empty() ? std::string("-1") : fmt_px(scale.x(violations.front().at.ns))) +
         "\">";
  draw_defs(out);
  draw_backgrounds(out, scale, layout, timeline);
  draw_grid_and_axes(out, scale, layout, axes);
  draw_network_row(out, scale, layout, timeline.net);
  double y = layout.nodes_y;
  for (const auto& [id, row] : timeline.nodes) {
    draw_node_row(out, scale, row, y);
    y += kNodeRowHeight;
  }
  for (const Span& shade : timeline.shades) {
    draw_span(out, scale, shade, layout.net_y,
              layout.nodes_y - layout.net_y +
                  static_cast<double>(timeline.nodes.size()) * kNodeRowHeight);
  }
  for (size_t i = 0; i < clients.size(); ++i) {
    draw_client_row(out, scale, clients[i], layout.client_y[i]);
  }
  out += axes;
  draw_violations(out, scale, layout, violations);
  out += "</svg>";
}

// ----- the page -----

constexpr std::string_view kStyle = R"CSS(
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2937;background:#f1f3f6}
header{background:#fff;border-bottom:1px solid #e2e5ea;padding:18px 24px 14px}
.top{display:flex;gap:20px;align-items:center;flex-wrap:wrap}
.res{font-size:32px;font-weight:800;letter-spacing:.08em;text-transform:uppercase;color:#fff;padding:4px 20px;border-radius:8px;line-height:1.3}
.res.pass{background:#16a34a}.res.fail{background:#dc2626}.res.other{background:#6b7280}
h1{margin:0;font-size:22px;line-height:1.2}
.file{color:#6b7280;font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:14px 0 0}
.meta dt{color:#6b7280}.meta dd{margin:0;min-width:0;overflow-wrap:anywhere}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f3f6;padding:1px 6px;border-radius:4px}
code.cmd{user-select:all;background:#111827;color:#e5e7eb;padding:3px 8px}
.stats{margin-top:8px;color:#374151}.stats b{font-weight:600}
.viol{margin-top:12px;border-left:4px solid #dc2626;background:#fef2f2;padding:8px 12px;border-radius:0 6px 6px 0}
.viol h2{margin:0 0 4px;font-size:15px;color:#991b1b}
.viol ol{margin:0;padding-left:22px}.viol li{margin:2px 0;white-space:pre-wrap;overflow-wrap:anywhere}
.viol li.first{font-weight:600;color:#7f1d1d}
.viol .p{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.card{background:#fff;margin:12px 16px;border:1px solid #e2e5ea;border-radius:8px;padding:10px 12px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;color:#374151;align-items:center}
.legend .h{font-weight:600;color:#111827}
.sw{display:inline-block;width:20px;height:11px;border-radius:2px;vertical-align:-1px;margin-right:5px}
.sym{display:inline-block;width:14px;text-align:center;margin-right:4px}
.zoom{display:flex;gap:8px;align-items:center;font-size:12px;margin-bottom:6px;color:#374151}
.zoom button{font:inherit;padding:1px 9px;border:1px solid #cbd0d8;background:#f8f9fb;border-radius:4px;cursor:pointer}
.zoom input{width:220px}
.tlwrap{display:flex}
.labels{flex:none}
.scroll{overflow-x:auto;flex:1;min-width:0}
#tl{overflow:visible}
svg text{font-size:11px;font-family:system-ui,sans-serif}
.ln{font-weight:600;text-anchor:end;fill:#1f2937;font-size:12px}
.lx{text-anchor:end;fill:#6b7280;font-style:italic}
.bf{fill:#d5d9df}.bp{fill:#fbe7a1}.bc{fill:#f59e0b}.bl{fill:#16a34a}
.tl{fill:#fff;font-weight:700;text-anchor:middle;pointer-events:none}
.dn{fill:url(#hd)}.ps{fill:url(#hp)}
.dt{fill:#fff;font-weight:700;pointer-events:none}.pt{fill:#1e3a8a;font-weight:700;pointer-events:none}
.g0{fill:#7c3aed}.g1{fill:#db2777}.g2{fill:#0891b2}.g3{fill:#65a30d}.gx{fill:#9ca3af}
.cf{fill:#e11d48}.ct{fill:#fb923c}
.np{fill:#ede9fe;stroke:#7c3aed}.nc{fill:#ffedd5;stroke:#ea580c}
.nt{fill:#3b0764;pointer-events:none}
.shp{fill:#7c3aed;opacity:.07;pointer-events:none}.shc{fill:#ea580c;opacity:.06;pointer-events:none}
.cm{stroke:#14532d;stroke-width:1;opacity:.75}
.me{fill:#064e3b;stroke:#fff;stroke-width:1}
.ml{fill:#0d9488}.md{fill:#92400e}.mr{fill:#2563eb}.mh{fill:#16a34a}
.mn{fill:#9ca3af;opacity:.6}.mt{fill:#64748b}
.mv{fill:none;stroke:#dc2626;stroke-width:2.5}
.ok{fill:#6db6fe}.fl{fill:#feb5da}.in{fill:url(#hi)}.it{fill:url(#hi);opacity:.55}
.ot{fill:#0c2d57;pointer-events:none}
.rb{fill:#f7f8fa}.rn{fill:#fbfaff}
.gl{stroke:#eceef2}
.ax{fill:#6b7280;font-size:10.5px;text-anchor:middle}.a0{text-anchor:start}
.vl{stroke:#dc2626;stroke-width:2.5}.vo{stroke:#dc2626;stroke-width:1.5;stroke-dasharray:5 3;opacity:.75}
.vt{fill:#7f1d1d;font-size:12px}.vp{font-weight:700;fill:#dc2626}.ve{text-anchor:end}
table{border-collapse:collapse;font-size:12px;width:100%}
td,th{text-align:left;padding:2px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
td.d{white-space:pre-wrap;overflow-wrap:anywhere}
summary{cursor:pointer;font-weight:600}
.muted{color:#6b7280}
)CSS";

// Zoom: rescale every time-dependent attribute, redraw grid and axes, keep the centre in view.
constexpr std::string_view kScript = R"JS(
(function(){
var svg=document.getElementById('tl'),sc=document.getElementById('scroll');
if(!svg||!sc)return;
var W=+svg.getAttribute('data-w'),PAD=+svg.getAttribute('data-pad'),MS=+svg.getAttribute('data-ms'),H=+svg.getAttribute('height');
var AY=svg.getAttribute('data-ay').split(',').map(Number),GY=+svg.getAttribute('data-gy');
var V=+svg.getAttribute('data-v'),NS=svg.namespaceURI,items=[],z=1;
var terms=svg.querySelectorAll('text.tl'),clips=svg.querySelectorAll('svg.c');
var vl=document.getElementById('vlabel'),vt=vl&&vl.querySelector('text');
function len(t){return t?t.getComputedTextLength():0;}
var termLen=[].map.call(terms,len),clipLen=[].map.call(clips,function(c){return len(c.firstChild);});
['x','x1','x2','width'].forEach(function(a){
  var els=svg.querySelectorAll('['+a+']');
  for(var i=0;i<els.length;i++){var e=els[i];
    if(e.ownerSVGElement!==svg||e.closest('defs')||e.closest('#axis')||e.closest('#grid'))continue;
    items.push([e,a,parseFloat(e.getAttribute(a))]);}
});
function el(g,tag,at,text){var e=document.createElementNS(NS,tag);
  for(var k in at)e.setAttribute(k,at[k]);if(text)e.textContent=text;g.appendChild(e);}
function axes(){
  var ppm=W*z/MS,step=1,g=document.getElementById('grid'),a=document.getElementById('axis');
  for(var k=0;k<30;k++){step=[1,2,5][k%3]*Math.pow(10,Math.floor(k/3));if(step*ppm>=90)break;}
  g.textContent='';a.textContent='';
  for(var i=0;i*step<=MS;i++){var t=i*step,x=(t*ppm).toFixed(1);
    el(g,'line',{x1:x,x2:x,y1:GY,y2:H,'class':'gl'});
    AY.forEach(function(y){el(a,'text',{x:x,y:y,'class':t?'ax':'ax a0'},t+' ms');});}
}
var range=document.getElementById('zr'),shown=document.getElementById('zl');
function zoom(nz,keep){
  nz=Math.max(0.05,Math.min(256,nz));
  var c=(sc.scrollLeft+sc.clientWidth/2)/(W*z);z=nz;
  for(var i=0;i<items.length;i++){var it=items[i];it[0].setAttribute(it[1],(it[2]*z).toFixed(1));}
  svg.setAttribute('width',Math.ceil(W*z+PAD));axes();
  for(var j=0;j<terms.length;j++){var b=terms[j].previousElementSibling;
    terms[j].style.display=b&&termLen[j]+4>b.width.baseVal.value?'none':'';}
  for(j=0;j<clips.length;j++)
    clips[j].style.display=clips[j].width.baseVal.value<Math.min(clipLen[j],60)+6?'none':'';
  if(vt){var vx=V*z,need=len(vt)+8,full=W*z+PAD,roomR=full-vx;
    var left=need>roomR&&(need<=vx||vx>roomR),st=left?vx-need+2:vx+6;
    st=Math.max(2,Math.min(st,full-need+2));
    vt.classList.remove('ve');vt.setAttribute('x',(st-vx).toFixed(1));}
  if(keep!==false)sc.scrollLeft=c*W*z-sc.clientWidth/2;
  range.value=Math.round(10*Math.log2(z));shown.textContent=(z<10?z.toFixed(2):z.toFixed(0))+'\u00d7';
}
function fit(){zoom((sc.clientWidth-PAD-2)/W,false);}
document.getElementById('zoom').hidden=false;
range.addEventListener('input',function(){zoom(Math.pow(2,range.value/10));});
document.getElementById('zin').onclick=function(){zoom(z*1.5);};
document.getElementById('zout').onclick=function(){zoom(z/1.5);};
document.getElementById('zfit').onclick=fit;
sc.addEventListener('wheel',function(e){if(!e.ctrlKey)return;e.preventDefault();
  zoom(z*(e.deltaY<0?1.25:0.8));},{passive:false});
// Short runs open fitted to the window; long ones at 1x, scrolled to the first violation.
var f=(sc.clientWidth-PAD-2)/W;
if(f>=0.5)fit();else if(V>=0)sc.scrollLeft=V-sc.clientWidth/2;
})();
)JS";

std::string result_class(std::string_view result) {
  if (result == "pass") return "pass";
  if (result == "fail") return "fail";
  return "other";
}

void write_violation_list(std::string& out, const std::vector<Violation>& violations) {
  if (violations.empty()) return;
  out += "<div class=\"viol\"><h2>" + std::to_string(violations.size()) +
         (violations.size() == 1 ? " violation" : " violations") +
         " (the first is the red line on the timeline)</h2><ol>";
  for (size_t i = 0; i < violations.size(); ++i) {
    const Violation& v = violations[i];
    out += std::string(i == 0 ? "<li class=\"first\">" : "<li>") + "<span class=\"p\">" +
           escape_html(v.property) + "</span> at " + fmt_ms(v.at.ns) + " ms" +
           (v.node != kNoNode ? " on " + node_name(v.node.value) : "") + ": " +
           escape_html(v.detail) + "</li>";
  }
  out += "</ol></div>";
}

void write_header(std::string& out, const RunRecord& run, const Timeline& timeline,
                  const std::vector<ClientRow>& clients) {
  const std::string result =
      !run.result.empty() ? run.result : (run.violations.empty() ? "pass" : "fail");
  char hash[24];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(run.trace_hash));
  out += "<header><div class=\"top\"><div class=\"res " + result_class(result) + "\">" +
         escape_html(result) + "</div><div><h1>" +
         escape_html(run.scenario.empty() ? "(unnamed scenario)" : run.scenario) +
         "</h1><div class=\"file\">" + escape_html(run.file) + "</div></div></div>";
  const std::string replay = run.replay.empty()
                                 ? "<span class=\"muted\">(not recorded)</span>"
                                 : "<code class=\"cmd\">" + escape_html(run.replay) + "</code>";
  out += "<dl class=\"meta\"><dt>seed</dt><dd><code>" + std::to_string(run.seed) +
         "</code></dd><dt>replay</dt><dd>" + replay + "</dd><dt>trace hash</dt><dd><code>" + hash +
         "</code></dd><dt>virtual duration</dt><dd>" + fmt_ms(run.end.ns) + " ms</dd></dl>";
  size_t counts[4] = {0, 0, 0, 0};
  for (const ClientRow& row : clients) {
    for (size_t i = 0; i < 4; ++i) counts[i] += row.counts[i];
  }
  const Stats& s = timeline.stats;
  out += "<div class=\"stats\"><b>" + std::to_string(timeline.nodes.size()) +
         "</b> nodes \u00b7 <b>" + std::to_string(s.elections) +
         "</b> elections \u00b7 max term <b>" + std::to_string(s.max_term) +
         "</b> \u00b7 commit index <b>" + std::to_string(s.commit_index) + "</b> (" +
         std::to_string(s.commits) + " commit events) \u00b7 <b>" + std::to_string(s.crashes) +
         "</b> crashes \u00b7 <b>" + std::to_string(s.network_faults) +
         "</b> partitions/cuts \u00b7 <b>" + std::to_string(run.history.ops.size()) +
         "</b> client ops: " + std::to_string(counts[1]) + " ok, " + std::to_string(counts[2]) +
         " fail, " + std::to_string(counts[3] + counts[0]) + " info</div>";
  write_violation_list(out, run.violations);
  out += "</header>";
}

void write_legend(std::string& out) {
  const auto swatch = [&](const char* style, const char* text) {
    out += "<span><span class=\"sw\" style=\"";
    out += style;
    out += "\"></span>";
    out += text;
    out += "</span>";
  };
  const auto symbol = [&](const char* color, const char* glyph, const char* text) {
    out += "<span><span class=\"sym\" style=\"color:";
    out += color;
    out += "\">";
    out += glyph;
    out += "</span>";
    out += text;
    out += "</span>";
  };
  out += "<div class=\"card legend\"><span class=\"h\">Nodes</span>";
  swatch("background:#d5d9df", "follower");
  swatch("background:#fbe7a1", "pre-candidate");
  swatch("background:#f59e0b", "candidate");
  swatch("background:#16a34a", "leader (term written on it)");
  swatch("background:repeating-linear-gradient(45deg,#30353d 0 3px,#6b7280 3px 6px)",
         "down (crash \u2192 restart)");
  swatch("background:repeating-linear-gradient(-45deg,#1d4ed8 0 2px,#dbeafe 2px 5px)", "paused");
  swatch("background:linear-gradient(#7c3aed 0 30%,#ede9fe 30%)", "partition (strip: side)");
  swatch("background:linear-gradient(#e11d48 0 30%,#ffedd5 30%)", "cut (strip: sender)");
  symbol("#064e3b", "\u25bc", "elected");
  symbol("#14532d", "|", "commit");
  symbol("#0d9488", "\u25c6", "link change");
  symbol("#92400e", "\u25a0", "disk fault");
  symbol("#2563eb", "\u25b2", "drift");
  symbol("#16a34a", "\u25cf", "heal");
  symbol("#9ca3af", "\u25cf", "fault did not apply");
  symbol("#dc2626", "\u2716", "violation");
  out += "<span class=\"h\">Client ops</span>";
  swatch("background:#6db6fe", "ok");
  swatch("background:#feb5da", "fail");
  swatch("background:repeating-linear-gradient(45deg,#ffaa26 0 3px,#ffe0ad 3px 6px)",
         "info (no answer: may take effect until the end)");
  out += "<span class=\"muted\">Hover anything for details.</span></div>";
}

std::string event_detail(const TraceEvent& e) {
  switch (e.kind) {
    case TraceKind::kRoleChange: {
      std::string text =
          std::string(raft::to_string(e.role)) + ", term " + std::to_string(e.term.value);
      if (e.leader != kNoNode) text += ", leader " + node_name(e.leader.value);
      return e.detail.empty() ? text : text + " \u00b7 " + e.detail;
    }
    case TraceKind::kCommit:
      return "commit index " + std::to_string(e.index.value);
    default:
      return e.detail;
  }
}

// Everything but commits, as text (searchable with the browser's find).
void write_event_table(std::string& out, const RunRecord& run) {
  size_t total = 0;
  for (const TraceEvent& e : run.events) total += e.kind != TraceKind::kCommit ? 1 : 0;
  out += "<details class=\"card\"><summary>Trace events (" + std::to_string(total) +
         ", commits left out)</summary><table><tr><th>ms</th><th>event</th><th>node</th>"
         "<th>detail</th></tr>";
  size_t shown = 0;
  for (const TraceEvent& e : run.events) {
    if (e.kind == TraceKind::kCommit) continue;
    if (shown == kEventRowsMax) break;
    ++shown;
    out += "<tr><td>" + fmt_ms(e.at.ns) + "</td><td>" + std::string(kind_name(e.kind)) +
           "</td><td>" + (e.node != kNoNode ? node_name(e.node.value) : "") +
           "</td><td class=\"d\">" + escape_html(event_detail(e)) + "</td></tr>";
  }
  out += "</table>";
  if (shown < total) {
    out += "<p class=\"muted\">" + std::to_string(total - shown) + " more not shown.</p>";
  }
  out += "</details>";
}

}  // namespace

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = utf8_sequence_length(text, i);
      if (length == 0) {
        append_hex_byte(out, c);
        ++i;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\n':
        out += "&#10;";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          append_hex_byte(out, c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out;
}

std::string render_report_html(const RunRecord& run) {
  const Scale scale = make_scale(run);
  const Timeline timeline = TimelineBuilder(run, scale).build();
  const std::vector<ClientRow> clients =
      make_client_rows(run.history, std::max(run.end.ns, scale.span_ns));
  const Layout layout = make_layout(timeline, clients);

  std::string out;
  out.reserve(64 * 1024 + run.history.ops.size() * 400 + run.events.size() * 64);
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>";
  out += escape_html(run.scenario) + " \u00b7 seed " + std::to_string(run.seed) + " \u00b7 " +
         escape_html(run.result) + " \u00b7 grape</title><style>";
  out += kStyle;
  out += "</style></head><body>";
  write_header(out, run, timeline, clients);
  write_legend(out);
  out +=
      "<div class=\"card\"><div class=\"zoom\" id=\"zoom\" hidden>Zoom "
      "<button id=\"zout\" title=\"zoom out\">\u2212</button><input type=\"range\" id=\"zr\" "
      "min=\"-40\" max=\"80\" value=\"0\" aria-label=\"zoom\"><button id=\"zin\" "
      "title=\"zoom in\">+</button><button id=\"zfit\">Fit</button><span id=\"zl\">1\u00d7"
      "</span><span class=\"muted\">Ctrl + wheel zooms; scroll sideways to move.</span></div>"
      "<div class=\"tlwrap\">";
  draw_labels(out, layout, timeline, clients);
  out += "<div class=\"scroll\" id=\"scroll\">";
  draw_timeline(out, scale, layout, timeline, clients, run.violations);
  out += "</div></div></div>";
  write_event_table(out, run);
  out += "<script>";
  out += kScript;
  out += "</script></body></html>\n";
  return out;
}

}  // namespace grape::sim
