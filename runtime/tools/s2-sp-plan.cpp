//===- s2-sp-plan.cpp - Plan and simulate sequence parallelism ------------===//
//
// A small MLIR-free tool that plans one attention forward of a pattern over
// P ranks (s2/SeqParallel.h) and prints the simulated steps, work balance
// and traffic next to the dense ring (every rank sends all its K/V):
//
//   s2-sp-plan (--pattern-text FILE | --bundle FILE.s2m | --preset NAME)
//       --seq-len S[,S...] --ranks P[,P...] [--head-dim D] [--heads H]
//       [--block-m M --block-n N] [--balance auto|kv-owner|query-rows|none]
//       [--per-rank] [--schedule] [--json]
//
// --schedule prints every step: the pieces each rank computes and the
// messages (key/value blocks, queries, partial outputs) it takes part in.
//
// Presets: s2 (block 64, local 16, stride 16 shard, causal), dense (dense
// causal), dense-bidir (dense, not causal); --heads sets their head count
// (default 32). Lengths accept k (1024) and M (1048576) suffixes. Tiles
// default to the bundle's, else to the cost model's choice (chooseTiles).
//
//===----------------------------------------------------------------------===//

#include "s2/Bundle.h"
#include "s2/SeqParallel.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

int usage() {
  std::cerr << "usage: s2-sp-plan (--pattern-text FILE | --bundle FILE.s2m | "
               "--preset s2|dense|dense-bidir)\n"
               "           --seq-len S[,S...] --ranks P[,P...] [--head-dim D] "
               "[--heads H]\n"
               "           [--block-m M --block-n N] "
               "[--balance auto|kv-owner|query-rows|none]\n"
               "           [--per-rank] [--schedule] [--json]\n";
  return 2;
}

/// A whole input file (bundles, pattern text, tables), within the bundle
/// size limit.
bool readFile(const std::string &path, std::string &out) {
  std::string error;
  return s2::readFileBounded(path, s2::BundleLimits::kMaxFileBytes, out, error);
}

/// A positive integer with an optional k (x1024) or M (x1048576) suffix.
bool toInt(std::string s, int64_t &v) {
  int64_t mul = 1;
  if (!s.empty() && (s.back() == 'k' || s.back() == 'K')) {
    mul = 1024;
    s.pop_back();
  } else if (!s.empty() && s.back() == 'M') {
    mul = 1024 * 1024;
    s.pop_back();
  }
  if (s.empty() || s.size() > 12)
    return false;
  char *end = nullptr;
  long long x = std::strtoll(s.c_str(), &end, 10);
  if (*end || x <= 0)
    return false;
  v = x * mul;
  return true;
}

bool toIntList(const std::string &s, std::vector<int64_t> &out) {
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int64_t v = 0;
    if (!toInt(item, v))
      return false;
    out.push_back(v);
  }
  return !out.empty();
}

s2::Rule allHeads(const s2::Pattern &p, s2::RuleKind kind) {
  s2::Rule r;
  r.kind = kind;
  r.heads.assign(size_t(p.heads), 1);
  return r;
}

bool makePreset(const std::string &name, int64_t heads, s2::Pattern &p) {
  p = s2::Pattern();
  p.name = name;
  p.heads = p.kvHeads = heads;
  p.block = 64;
  p.causal = name != "dense-bidir";
  if (name == "s2") {
    s2::Rule l = allHeads(p, s2::RuleKind::Local);
    l.n = 16;
    s2::Rule s = allHeads(p, s2::RuleKind::Stride);
    s.step = 16;
    s.shift.resize(size_t(heads));
    for (int64_t h = 0; h < heads; ++h)
      s.shift[size_t(h)] = s2::shardShift(p, h, 16, 0);
    p.rules = {l, s};
    return true;
  }
  if (name == "dense" || name == "dense-bidir") {
    p.rules = {allHeads(p, s2::RuleKind::Dense)};
    return true;
  }
  return false;
}

std::string mib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", double(bytes) / (1024.0 * 1024.0));
  return buf;
}

std::string fmt(double x, const char *f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

std::string kib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f KiB", double(bytes) / 1024.0);
  return buf;
}

void printSchedule(const s2::SpPlan &plan) {
  for (int64_t step = 0; step < plan.steps; ++step) {
    std::cout << "step " << step << ":\n";
    for (const s2::SpPiece &pc : plan.pieces) {
      if (pc.step != step)
        continue;
      int64_t blocks = 0;
      for (const s2::SpBlockRange &b : pc.kvBlocks)
        blocks += b.tileEnd - b.tileBegin;
      std::cout << "  rank " << pc.computeRank << " computes q tiles ["
                << pc.qTileBegin << ", " << pc.qTileEnd << ") of rank "
                << pc.owner << " x k tiles of rank " << pc.kvRank << ": "
                << pc.work << " visits, " << blocks << " kv blocks";
      if (pc.task >= 0)
        std::cout << " (task " << pc.task << ")";
      std::cout << "\n";
    }
    for (const s2::SpTransfer &tr : plan.transfers)
      if (tr.step == step)
        std::cout << "  " << s2::spTransferKindName(tr.kind) << " " << tr.src
                  << " -> " << tr.dst << ": " << kib(tr.bytes)
                  << (tr.kind == s2::SpTransferKind::Output
                          ? " after the step"
                          : " before the step")
                  << "\n";
  }
}

} // namespace

int main(int argc, char **argv) {
  std::string patternFile, bundleFile, preset;
  std::vector<int64_t> seqLens, ranks;
  int64_t headDim = 128, heads = 32, blockM = 0, blockN = 0;
  bool headDimSet = false;
  bool json = false, perRank = false, schedule = false;
  s2::SpBalance balance = s2::SpBalance::Auto;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](std::string &v) {
      if (i + 1 >= argc)
        return false;
      v = argv[++i];
      return true;
    };
    std::string v;
    int64_t n = 0;
    if (a == "--json") {
      json = true;
    } else if (a == "--per-rank") {
      perRank = true;
    } else if (a == "--schedule") {
      schedule = true;
    } else if (a == "--balance" && next(v)) {
      bool found = false;
      for (s2::SpBalance b : {s2::SpBalance::None, s2::SpBalance::KvOwner,
                              s2::SpBalance::QueryRows, s2::SpBalance::Auto})
        if (v == s2::spBalanceName(b)) {
          balance = b;
          found = true;
        }
      if (!found) {
        std::cerr << "s2-sp-plan: error: unknown --balance '" << v
                  << "', expected auto, kv-owner, query-rows or none\n";
        return 2;
      }
    } else if (a == "--pattern-text" && next(v)) {
      patternFile = v;
    } else if (a == "--bundle" && next(v)) {
      bundleFile = v;
    } else if (a == "--preset" && next(v)) {
      preset = v;
    } else if (a == "--seq-len" && next(v)) {
      if (!toIntList(v, seqLens)) {
        std::cerr << "s2-sp-plan: error: invalid --seq-len '" << v
                  << "', expected positive integers (k, M suffixes)\n";
        return 2;
      }
    } else if (a == "--ranks" && next(v)) {
      if (!toIntList(v, ranks)) {
        std::cerr << "s2-sp-plan: error: invalid --ranks '" << v
                  << "', expected positive integers\n";
        return 2;
      }
    } else if ((a == "--head-dim" || a == "--heads" || a == "--block-m" ||
                a == "--block-n") &&
               next(v)) {
      if (!toInt(v, n)) {
        std::cerr << "s2-sp-plan: error: invalid " << a << " '" << v
                  << "', expected a positive integer\n";
        return 2;
      }
      headDimSet |= a == "--head-dim";
      (a == "--head-dim"  ? headDim
       : a == "--heads"   ? heads
       : a == "--block-m" ? blockM
                          : blockN) = n;
    } else {
      std::cerr << "s2-sp-plan: error: unknown or incomplete option '" << a
                << "'\n";
      return usage();
    }
  }
  if (int(!patternFile.empty()) + int(!bundleFile.empty()) +
              int(!preset.empty()) !=
          1 ||
      seqLens.empty() || ranks.empty())
    return usage();

  s2::Pattern p;
  std::string err;
  s2::TileConfig tiles;
  bool haveTiles = false;
  if (!preset.empty()) {
    if (heads > s2::Limits::kMaxHeads || !makePreset(preset, heads, p)) {
      std::cerr << "s2-sp-plan: error: unknown preset '" << preset
                << "' or heads out of range, expected s2, dense or "
                   "dense-bidir\n";
      return 2;
    }
  } else if (!patternFile.empty()) {
    std::string text;
    if (!readFile(patternFile, text)) {
      std::cerr << "s2-sp-plan: error: cannot read '" << patternFile << "'\n";
      return 1;
    }
    if (!s2::deserializePattern(text, p, err)) {
      std::cerr << "s2-sp-plan: error: '" << patternFile << "': " << err
                << "\n";
      return 1;
    }
  } else {
    std::string data;
    s2::Bundle b;
    if (!readFile(bundleFile, data)) {
      std::cerr << "s2-sp-plan: error: cannot read '" << bundleFile << "'\n";
      return 1;
    }
    if (!s2::readBundle(data.data(), data.size(), b, err) ||
        !s2::deserializePattern(b.patternText, p, err)) {
      std::cerr << "s2-sp-plan: error: '" << bundleFile << "': " << err << "\n";
      return 1;
    }
    if (b.blockM > 0 && b.blockN > 0) {
      tiles.blockM = b.blockM;
      tiles.blockN = b.blockN;
      haveTiles = true;
    }
    if (!headDimSet && b.headDim > 0)
      headDim = b.headDim;
    else if (!headDimSet && !b.kernels.empty() && b.kernels[0].headDim > 0)
      headDim = b.kernels[0].headDim;
  }
  if (!haveTiles)
    tiles = s2::chooseTiles(p, headDim);
  if (blockM > 0)
    tiles.blockM = blockM;
  if (blockN > 0)
    tiles.blockN = blockN;

  // Plan every run first so that errors come before any output.
  struct Run {
    int64_t S, P;
    s2::SpPlan plan;
    double ms;
  };
  std::vector<Run> runs;
  for (int64_t S : seqLens)
    for (int64_t P : ranks) {
      s2::SpConfig cfg;
      cfg.seqLen = S;
      cfg.ranks = P;
      cfg.tiles = tiles;
      cfg.headDim = headDim;
      cfg.balance = balance;
      Run run{S, P, s2::SpPlan(), 0};
      auto t0 = std::chrono::steady_clock::now();
      if (!s2::planSequenceParallel(p, cfg, run.plan, err)) {
        std::cerr << "s2-sp-plan: error: " << err << "\n";
        return 1;
      }
      run.ms = std::chrono::duration<double, std::milli>(
                   std::chrono::steady_clock::now() - t0)
                   .count();
      runs.push_back(std::move(run));
    }

  if (json)
    std::cout << "{\"pattern\": \"" << p.name << "\", \"heads\": " << p.heads
              << ", \"kv_heads\": " << (p.kvHeads > 0 ? p.kvHeads : p.heads)
              << ", \"block_m\": " << tiles.blockM
              << ", \"block_n\": " << tiles.blockN
              << ", \"head_dim\": " << headDim << ", \"runs\": [";
  else
    std::cout << "pattern " << p.name << ": " << p.heads << " heads, block "
              << p.block << (p.causal ? ", causal" : ", bidirectional")
              << "; tiles " << tiles.blockM << "x" << tiles.blockN
              << ", head dim " << headDim << ", bf16\n"
              << "| S | P | balancing | steps (ring) | max/mean work (ring) | "
                 "lock-step / ideal (ring) | KV MiB | Q+out MiB | "
                 "total / ring MiB | vs ring | plan ms |\n"
              << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  bool first = true;
  for (const Run &run : runs) {
    {
      int64_t S = run.S, P = run.P;
      const s2::SpPlan &plan = run.plan;
      double ms = run.ms;
      s2::SpStats st = s2::simulateSequenceParallel(plan);
      double lock =
          st.meanWork > 0 ? double(st.lockstepWork) / st.meanWork : 1.0;
      double ringLock =
          st.meanWork > 0 ? double(st.ringLockstepWork) / st.meanWork : 1.0;
      double ratio =
          st.ringBytes > 0 ? double(st.totalBytes) / double(st.ringBytes) : 0;
      if (json) {
        std::cout << (first ? "" : ",") << "\n  {\"seq_len\": " << S
                  << ", \"ranks\": " << P << ", \"balancing\": \""
                  << s2::spBalanceName(plan.balanceUsed)
                  << "\", \"steps\": " << st.steps
                  << ", \"ring_steps\": " << st.ringSteps
                  << ", \"total_work\": " << st.totalWork
                  << ", \"max_work\": " << st.maxWork
                  << ", \"mean_work\": " << fmt(st.meanWork, "%.1f")
                  << ", \"imbalance\": " << fmt(st.imbalance, "%.4f")
                  << ", \"ring_imbalance\": " << fmt(st.ringImbalance, "%.4f")
                  << ", \"lockstep_work\": " << st.lockstepWork
                  << ", \"ring_lockstep_work\": " << st.ringLockstepWork
                  << ", \"kv_bytes\": " << st.kvBytes
                  << ", \"q_bytes\": " << st.qBytes
                  << ", \"out_bytes\": " << st.outBytes
                  << ", \"total_bytes\": " << st.totalBytes
                  << ", \"ring_bytes\": " << st.ringBytes
                  << ", \"plan_ms\": " << fmt(ms, "%.1f");
        if (perRank) {
          std::cout << ", \"per_rank\": [";
          for (size_t r = 0; r < st.ranks.size(); ++r)
            std::cout << (r ? ", " : "") << "{\"work\": " << st.ranks[r].work
                      << ", \"steps\": " << st.ranks[r].steps
                      << ", \"pieces\": " << st.ranks[r].pieces
                      << ", \"sent\": " << st.ranks[r].bytesSent
                      << ", \"received\": " << st.ranks[r].bytesReceived << "}";
          std::cout << "]";
        }
        std::cout << "}";
      } else {
        std::cout << "| " << S << " | " << P << " | "
                  << s2::spBalanceName(plan.balanceUsed) << " | " << st.steps
                  << " (" << st.ringSteps << ") | " << fmt(st.imbalance, "%.3f")
                  << " (" << fmt(st.ringImbalance, "%.3f") << ") | "
                  << fmt(lock, "%.3f") << " (" << fmt(ringLock, "%.3f")
                  << ") | " << mib(st.kvBytes) << " | "
                  << mib(st.qBytes + st.outBytes) << " | " << mib(st.totalBytes)
                  << " / " << mib(st.ringBytes) << " | "
                  << fmt(100.0 * ratio, "%.1f%%") << " | " << fmt(ms, "%.1f")
                  << " |\n";
        if (perRank) {
          std::cout
              << "| rank | work | steps | pieces | sent MiB | received MiB |\n"
              << "|---|---|---|---|---|---|\n";
          for (size_t r = 0; r < st.ranks.size(); ++r)
            std::cout << "| " << r << " | " << st.ranks[r].work << " | "
                      << st.ranks[r].steps << " | " << st.ranks[r].pieces
                      << " | " << mib(st.ranks[r].bytesSent) << " | "
                      << mib(st.ranks[r].bytesReceived) << " |\n";
        }
      }
      if (schedule && !json)
        printSchedule(plan);
      first = false;
    }
  }
  if (json)
    std::cout << "\n]}\n";
  return 0;
}
