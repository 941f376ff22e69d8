//===- Inspect.cpp - Reports and pictures of a pattern ---------*- C++ -*-===//
//
// The text report (settings, statistics, ASCII masks) and the SVG figure of
// a pattern. Statistics come from dialect/Analysis/PatternStats.h; masks
// from the oracle (s2::blockMask), so the pictures show exactly what the
// kernels compute at block level.
//
//===----------------------------------------------------------------------===//

#include "compiler/Inspect/Inspect.h"
#include "dialect/Analysis/PatternStats.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/WithColor.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

using namespace s2c;

/// Heads grouped by an equal key, in order of first appearance.
template <typename Key>
static std::vector<std::pair<Key, std::vector<int64_t>>>
groupHeads(const std::vector<Key> &keyOfHead) {
  std::vector<std::pair<Key, std::vector<int64_t>>> groups;
  std::map<Key, size_t> index;
  for (size_t h = 0; h < keyOfHead.size(); ++h) {
    auto [it, inserted] = index.emplace(keyOfHead[h], groups.size());
    if (inserted)
      groups.push_back({keyOfHead[h], {}});
    groups[it->second].second.push_back(int64_t(h));
  }
  return groups;
}

static std::string headsPhrase(const std::vector<int64_t> &heads) {
  return (heads.size() == 1 ? "head " : "heads ") + formatIndexSet(heads);
}

static std::string fixed4(double v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%.4f", v);
  return s;
}

/// Checks what both renderings need; prints the reason on stderr.
static mlir::LogicalResult checkInputs(const s2::Pattern &p, int64_t seqLen) {
  std::string error = s2::validatePattern(p);
  if (error.empty())
    error = checkAnalysisLength(p, seqLen);
  if (error.empty())
    return mlir::success();
  llvm::WithColor::error(llvm::errs())
      << "cannot inspect pattern '" << p.name << "': " << error << "\n";
  return mlir::failure();
}

/// One ASCII character per cell of f x f blocks: ' ' where causality hides
/// every block, '#' when all visible-able blocks are visible, '+' when some
/// are, '.' when none.
static char cellChar(const s2::Pattern &p, const std::vector<uint8_t> &mask,
                     int64_t nb, int64_t ci, int64_t cj, int64_t f) {
  int64_t possible = 0, visible = 0;
  for (int64_t i = ci * f; i < std::min(nb, (ci + 1) * f); ++i)
    for (int64_t j = cj * f; j < std::min(nb, (cj + 1) * f); ++j) {
      if (p.causal && j > i)
        continue;
      ++possible;
      visible += mask[size_t(i * nb + j)] ? 1 : 0;
    }
  if (possible == 0)
    return ' ';
  if (visible == 0)
    return '.';
  return visible == possible ? '#' : '+';
}

mlir::LogicalResult s2c::inspectPattern(const s2::Pattern &p,
                                        const InspectOptions &opts,
                                        llvm::raw_ostream &os) {
  if (mlir::failed(checkInputs(p, opts.seqLen)))
    return mlir::failure();
  int64_t nb = numBlocks(p, opts.seqLen);

  os << "pattern '" << p.name << "'\n";
  os << "  heads " << p.heads << ", kv_heads " << p.kvHeads << " ("
     << p.groupSize() << " query head" << (p.groupSize() == 1 ? "" : "s")
     << " per KV head), block " << p.block << ", "
     << (p.causal ? "causal" : "bidirectional") << "\n";
  os << "  head_dim "
     << (p.headDim ? std::to_string(p.headDim) : std::string("any"))
     << ", dtype " << s2::dtypeName(p.dtype) << ", " << p.rules.size()
     << " rule" << (p.rules.size() == 1 ? "" : "s") << "\n";
  os << "at " << opts.seqLen << " tokens (" << nb << " blocks of " << p.block
     << "):\n";

  DensityStats d = computeDensity(p, opts.seqLen);
  os << "density: " << fixed4(d.overall) << " overall (visible pairs / "
     << (p.causal ? "causal" : "all") << " pairs)\n";
  std::vector<std::string> densityKey;
  for (double x : d.density)
    densityKey.push_back(fixed4(x));
  for (auto &[value, heads] : groupHeads(densityKey))
    os << "  " << headsPhrase(heads) << ": " << value << "\n";

  CoverageStats cov = computeCoverage(p, opts.seqLen);
  if (cov.complete()) {
    os << "coverage: complete (every " << (p.causal ? "causally visible " : "")
       << "block is seen by some head)\n";
  } else {
    os << "coverage: incomplete: " << cov.uncovered
       << " block pairs seen by no head, first (query block, key block)";
    for (size_t k = 0; k < cov.sample.size(); ++k)
      os << (k ? ", (" : " (") << cov.sample[k].first << ", "
         << cov.sample[k].second << ")";
    os << "\n";
  }

  std::vector<EmptyRows> empty = findEmptyRows(p);
  if (empty.empty()) {
    os << "empty rows: none (every query block sees a key block, at any "
          "length)\n";
  } else {
    os << "empty rows: query blocks that see no key block\n";
    for (const EmptyRows &e : empty)
      os << "  " << headsPhrase(e.heads) << ": " << formatRanges(e.ranges)
         << "\n";
  }

  KvCacheStats kv = computeKvCache(p, opts.seqLen);
  if (!kv.applicable) {
    os << "kv-cache: not applicable (bidirectional)\n";
  } else {
    if (kv.allEfficient()) {
      os << "kv-cache: efficient (every key block is used by a run of query "
            "blocks starting at its own, so a decoder drops it once unused)\n";
    } else {
      os << "kv-cache: not efficient\n";
      std::vector<std::string> why;
      for (size_t h = 0; h < kv.efficient.size(); ++h) {
        const auto &v = kv.violation[h];
        why.push_back(kv.efficient[h]
                          ? std::string("efficient")
                          : "drops key block " + std::to_string(v.keyBlock) +
                                " at query block " + std::to_string(v.gap) +
                                ", uses it again at query block " +
                                std::to_string(v.later));
      }
      for (auto &[value, heads] : groupHeads(why))
        os << "  " << headsPhrase(heads) << ": " << value << "\n";
    }
    os << "kv fraction a decoder keeps after " << opts.seqLen << " tokens:\n";
    std::vector<std::string> keptKey;
    for (size_t h = 0; h < kv.fraction.size(); ++h)
      keptKey.push_back(fixed4(kv.fraction[h]) + " (" +
                        std::to_string(kv.keptBlocks[h]) + " of " +
                        std::to_string(nb) + " key blocks)");
    for (auto &[value, heads] : groupHeads(keptKey))
      os << "  " << headsPhrase(heads) << ": " << value << "\n";
  }

  if (!opts.ascii)
    return mlir::success();
  std::vector<std::vector<uint8_t>> masks;
  for (int64_t h = 0; h < p.heads; ++h)
    masks.push_back(s2::blockMask(p, h, nb, nb));
  auto groups = groupHeads(masks);
  int64_t width = std::max<int64_t>(1, opts.maxWidth);
  int64_t f = (nb + width - 1) / width;
  int64_t cells = (nb + f - 1) / f;
  os << "block masks: " << groups.size() << " distinct, " << nb << " x " << nb
     << " blocks (query blocks down, key blocks across)";
  if (f > 1)
    os << ", downsampled to " << cells << " x " << cells << ": one cell is "
       << f << " x " << f << " blocks, '#' all visible, '+' some, '.' none";
  else
    os << ": '#' visible, '.' hidden";
  os << "\n";
  for (auto &[mask, heads] : groups) {
    os << headsPhrase(heads) << ":\n";
    for (int64_t ci = 0; ci < cells; ++ci) {
      std::string row = "  ";
      for (int64_t cj = 0; cj < cells; ++cj)
        row += cellChar(p, mask, nb, ci, cj, f);
      while (!row.empty() && row.back() == ' ')
        row.pop_back();
      os << row << "\n";
    }
  }
  return mlir::success();
}

//===----------------------------------------------------------------------===//
// SVG
//===----------------------------------------------------------------------===//

/// Largest number of cells per panel side (one pixel per cell at least);
/// larger masks are downsampled.
static constexpr int64_t kMaxSvgCells = 128;

/// Cells of a downsampled mask: 0 none visible, 1 some, 2 all the blocks
/// causality allows.
static std::vector<uint8_t> cellLevels(const s2::Pattern &p,
                                       const std::vector<uint8_t> &mask,
                                       int64_t nb, int64_t f, int64_t cells) {
  std::vector<int64_t> possible(size_t(cells * cells), 0),
      visible(size_t(cells * cells), 0);
  for (int64_t i = 0; i < nb; ++i)
    for (int64_t j = 0; j < (p.causal ? i + 1 : nb); ++j) {
      size_t c = size_t((i / f) * cells + j / f);
      ++possible[c];
      visible[c] += mask[size_t(i * nb + j)] ? 1 : 0;
    }
  std::vector<uint8_t> level(size_t(cells * cells), 0);
  for (size_t c = 0; c < level.size(); ++c)
    level[c] = visible[c] == 0 ? 0 : visible[c] == possible[c] ? 2 : 1;
  return level;
}

/// The cells at `level` as a path of rectangles in cell units: horizontal
/// runs, merged down rows while equal.
static std::string levelPath(const std::vector<uint8_t> &level, int64_t cells,
                             uint8_t want) {
  std::string d;
  auto emit = [&](int64_t x, int64_t y, int64_t w, int64_t h) {
    d += "M" + std::to_string(x) + " " + std::to_string(y) + "h" +
         std::to_string(w) + "v" + std::to_string(h) + "h-" +
         std::to_string(w) + "z";
  };
  // Open rectangles: (x0, x1) -> first row.
  std::map<std::pair<int64_t, int64_t>, int64_t> open;
  for (int64_t r = 0; r <= cells; ++r) {
    std::map<std::pair<int64_t, int64_t>, int64_t> next;
    for (int64_t c = 0; r < cells && c < cells;) {
      if (level[size_t(r * cells + c)] != want) {
        ++c;
        continue;
      }
      int64_t c0 = c;
      while (c < cells && level[size_t(r * cells + c)] == want)
        ++c;
      auto key = std::make_pair(c0, c);
      auto it = open.find(key);
      next[key] = it == open.end() ? r : it->second;
    }
    for (auto &[key, start] : open)
      if (!next.count(key))
        emit(key.first, start, key.second - key.first, r - start);
    open = std::move(next);
  }
  return d;
}

static std::string percent(double v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format(v >= 0.1 ? "%.0f%%" : "%.1f%%", v * 100);
  return s;
}

mlir::LogicalResult s2c::writeSvg(const s2::Pattern &p, int64_t seqLen,
                                  llvm::raw_ostream &os) {
  if (mlir::failed(checkInputs(p, seqLen)))
    return mlir::failure();
  int64_t nb = numBlocks(p, seqLen);
  int64_t f = (nb + kMaxSvgCells - 1) / kMaxSvgCells;
  int64_t cells = (nb + f - 1) / f;
  DensityStats density = computeDensity(p, seqLen);

  const int64_t panel = 128, gap = 20, titleH = 16, headerH = 76;
  int64_t cols = std::min<int64_t>(p.heads, 8);
  int64_t rows = (p.heads + cols - 1) / cols;
  // Wide enough for the header lines.
  int64_t width = std::max<int64_t>(gap + cols * (panel + gap), 440);
  int64_t height = headerH + rows * (panel + titleH + gap);
  double scale = double(panel) / double(cells);

  std::vector<std::vector<uint8_t>> masks;
  for (int64_t h = 0; h < p.heads; ++h)
    masks.push_back(s2::blockMask(p, h, nb, nb));
  auto groups = groupHeads(masks);
  std::vector<size_t> groupOf(size_t(p.heads), 0);
  for (size_t g = 0; g < groups.size(); ++g)
    for (int64_t h : groups[g].second)
      groupOf[size_t(h)] = g;

  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" "
        "xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\""
     << width << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " "
     << height << "\" font-family=\"Helvetica, Arial, sans-serif\">\n";
  os << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  os << "<text x=\"" << gap << "\" y=\"20\" font-size=\"14\" "
     << "font-weight=\"bold\">" << p.name << "</text>\n";
  os << "<text x=\"" << gap << "\" y=\"36\" font-size=\"11\" fill=\"#444\">"
     << p.heads << " heads, " << p.kvHeads << " KV heads, block " << p.block
     << ", " << (p.causal ? "causal" : "bidirectional") << "</text>\n";
  os << "<text x=\"" << gap << "\" y=\"51\" font-size=\"11\" fill=\"#444\">"
     << seqLen << " tokens, " << nb << " blocks, density "
     << percent(density.overall) << "</text>\n";
  if (f > 1)
    os << "<text x=\"" << gap << "\" y=\"66\" font-size=\"11\" "
       << "fill=\"#444\">one cell = " << f << "\xC3\x97" << f
       << " blocks: dark = all visible, light = some</text>\n";

  // Shared shapes: the region causality allows, and each distinct mask.
  os << "<defs>\n";
  os << "<path id=\"allowed\" d=\"";
  if (p.causal) {
    // Staircase through the diagonal cells.
    os << "M0 0";
    for (int64_t c = 0; c < cells; ++c)
      os << "h1v1";
    os << "H0z";
  } else {
    os << "M0 0h" << cells << "v" << cells << "h-" << cells << "z";
  }
  os << "\"/>\n";
  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<uint8_t> level = cellLevels(p, groups[g].first, nb, f, cells);
    os << "<g id=\"m" << g << "\"><path fill=\"#1f4e9c\" d=\""
       << levelPath(level, cells, 2) << "\"/>";
    if (f > 1)
      os << "<path fill=\"#8fa9d8\" d=\"" << levelPath(level, cells, 1)
         << "\"/>";
    os << "</g>\n";
  }
  os << "</defs>\n";

  for (int64_t h = 0; h < p.heads; ++h) {
    int64_t x = gap + (h % cols) * (panel + gap);
    int64_t y = headerH + (h / cols) * (panel + titleH + gap);
    os << "<text x=\"" << x + panel / 2 << "\" y=\"" << y + 11
       << "\" font-size=\"11\" text-anchor=\"middle\">head " << h
       << " \xC2\xB7 " << percent(density.density[size_t(h)]) << "</text>\n";
    os << "<g transform=\"translate(" << x << " " << y + titleH << ") scale("
       << llvm::format("%.6g", scale) << ")\" shape-rendering=\"crispEdges\">"
       << "<use xlink:href=\"#allowed\" fill=\"#e8edf5\"/>"
       << "<use xlink:href=\"#m" << groupOf[size_t(h)] << "\"/></g>\n";
    os << "<rect x=\"" << x << "\" y=\"" << y + titleH << "\" width=\"" << panel
       << "\" height=\"" << panel
       << "\" fill=\"none\" stroke=\"#888\" stroke-width=\"0.75\"/>\n";
  }
  os << "</svg>\n";
  return mlir::success();
}
