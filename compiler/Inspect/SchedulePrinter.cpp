//===- SchedulePrinter.cpp - Readable text of a tiled schedule -*- C++ -*-===//
//
// Prints an s2::Schedule for people: a header with the tile sizes and
// whether the schedule is closed form, then per group the heads, each phase
// with its spans (bounds in the query tile t, as in the IR), the tables, and
// a small picture of the first head's visits.
//
//===----------------------------------------------------------------------===//

#include "compiler/Inspect/SchedulePrinter.h"
#include "dialect/IR/S2TiledOps.h"

#include "llvm/Support/Format.h"

#include <algorithm>
#include <map>

using namespace s2c;

/// "0, 3, 5 to 7" for a sorted index list.
static std::string indexSet(const std::vector<int64_t> &xs) {
  std::string out;
  for (size_t i = 0; i < xs.size();) {
    size_t j = i;
    while (j + 1 < xs.size() && xs[j + 1] == xs[j] + 1)
      ++j;
    if (!out.empty())
      out += ", ";
    out += std::to_string(xs[i]);
    if (j >= i + 2)
      out += " to " + std::to_string(xs[j]);
    else if (j == i + 1)
      out += ", " + std::to_string(xs[j]);
    i = j + 1;
  }
  return out;
}

static void printSpan(const s2::Span &sp, const std::vector<int64_t> &heads,
                      llvm::raw_ostream &os) {
  os << "    " << s2::spanKindName(sp.kind) << " ";
  if (sp.kind == s2::SpanKind::Table) {
    os << sp.table << ": key tiles in row t of table " << sp.table;
  } else {
    os << "[";
    printBoundList(os, sp.lo, true);
    os << ", ";
    printBoundList(os, sp.hi, false);
    os << ")";
    if (sp.kind == s2::SpanKind::Progression) {
      os << " every " << sp.step << " tiles";
      if (sp.run > 1)
        os << ", runs of " << sp.run;
      std::map<int64_t, std::vector<int64_t>> byResidue;
      for (int64_t h : heads)
        byResidue[sp.residue[size_t(h)]].push_back(h);
      os << ", from residue ";
      bool first = true;
      for (auto &[r, hs] : byResidue) {
        os << (first ? "" : ", ") << r << " ("
           << (hs.size() == 1 ? "head " : "heads ") << indexSet(hs) << ")";
        first = false;
      }
    }
  }
  os << (sp.masked ? "; masked: per-element pattern check\n" : "; full\n");
}

void s2c::printSchedule(const s2::Pattern &p, const s2::Schedule &s,
                        llvm::raw_ostream &os) {
  int64_t bm = s.tiles.blockM, bn = s.tiles.blockN;
  os << "schedule of pattern '" << p.name << "' (" << p.heads
     << " heads, block " << p.block << ", "
     << (s.causal ? "causal" : "bidirectional") << "): tiles " << bm << " x "
     << bn << " (query rows x keys), " << s.groups.size()
     << (s.groups.size() == 1 ? " group, " : " groups, ");
  if (s.tables.empty())
    os << "closed form (no tables)\n";
  else
    os << s.tables.size() << " table(s) for keys up to " << s.maxSeqLen
       << " tokens\n";
  os << "query tile t covers rows [" << bm << "t, " << bm << "t + " << bm
     << "), key tile k keys [" << bn << "k, " << bn << "k + " << bn
     << "); bounds are clamped to [0, key tiles)\n";
  for (size_t g = 0; g < s.groups.size(); ++g) {
    const s2::HeadGroup &grp = s.groups[g];
    os << "\ngroup " << g << ": "
       << (grp.heads.size() == 1 ? "head " : "heads ") << indexSet(grp.heads)
       << "\n";
    if (grp.phases.empty())
      os << "  (no key tile is ever visited)\n";
    for (const s2::Phase &ph : grp.phases) {
      os << "  query tiles [" << ph.tBegin << ", ";
      if (ph.tEnd < 0)
        os << "end";
      else
        os << ph.tEnd;
      os << "):\n";
      for (const s2::Span &sp : ph.spans)
        printSpan(sp, grp.heads, os);
    }
    // Picture of the first head: 24 query tiles, up to 64 key tiles.
    int64_t h = grp.heads.front();
    int64_t nq = 24;
    int64_t nk = std::min<int64_t>(64, (nq * bm + bn - 1) / bn);
    os << "  head " << h << ", query tiles 0 to " << nq - 1
       << " (rows) x key tiles 0 to " << nk - 1
       << " ('#' full, '+' masked, '.' skipped):\n";
    for (int64_t t = 0; t < nq; ++t) {
      std::string row(size_t(nk), '.');
      for (int64_t k : s2::keyTilesOf(s, h, t, nk))
        row[size_t(k)] = s2::tileMasked(s, h, t, k, nk) ? '+' : '#';
      os << llvm::format("  %4lld ", (long long)t) << row << "\n";
    }
  }
  for (size_t i = 0; i < s.tables.size(); ++i)
    os << "\ntable " << i << ": " << s.tables[i].rows() << " query tiles, "
       << s.tables[i].cols.size() << " key tile entries\n";
}
