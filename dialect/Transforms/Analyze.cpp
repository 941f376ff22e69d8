//===- Analyze.cpp - The s2-analyze pass -----------------------*- C++ -*-===//
//
// Reports the analyses of dialect/Analysis/PatternStats.h as diagnostics on
// every s2.pattern: errors for empty rows (at the first rule of the affected
// heads, or at the pattern when no rule applies to them), a remark for
// incomplete coverage, and remarks with density and KV-cache statistics.
//
//===----------------------------------------------------------------------===//

#include "dialect/Analysis/PatternStats.h"
#include "dialect/IR/PatternConversion.h"
#include "dialect/Transforms/Passes.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/Format.h"

#include <map>

namespace s2c {
#define GEN_PASS_DEF_S2ANALYZE
#include "dialect/Transforms/Passes.h.inc"
} // namespace s2c

using namespace mlir;
using namespace s2c;

/// "head 3" or "heads 0 to 27".
static std::string headsPhrase(const std::vector<int64_t> &heads) {
  return (heads.size() == 1 ? "head " : "heads ") + formatIndexSet(heads);
}

/// Groups heads by an equal printed value: "0.1071 for heads 0 to 27; ...".
static std::string groupedPerHead(const std::vector<std::string> &valueOfHead) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> groups;
  std::map<std::string, size_t> index;
  for (size_t h = 0; h < valueOfHead.size(); ++h) {
    auto [it, inserted] = index.emplace(valueOfHead[h], groups.size());
    if (inserted)
      groups.push_back({valueOfHead[h], {}});
    groups[it->second].second.push_back(int64_t(h));
  }
  std::string out;
  for (auto &[value, heads] : groups) {
    if (!out.empty())
      out += "; ";
    out += value + " for " + headsPhrase(heads);
  }
  return out;
}

static std::string fixed4(double v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%.4f", v);
  return s;
}

namespace {
struct S2AnalyzePass : public s2c::impl::S2AnalyzeBase<S2AnalyzePass> {
  using Base::Base;

  void runOnOperation() override {
    bool failed = false;
    getOperation().walk([&](PatternOp op) {
      if (mlir::failed(analyze(op)))
        failed = true;
    });
    if (failed)
      signalPassFailure();
  }

  LogicalResult analyze(PatternOp op) {
    s2::Pattern p = patternFromOp(op);
    bool ok = true;

    // Empty rows: exact, independent of the sequence length.
    for (const EmptyRows &group : findEmptyRows(p)) {
      Operation *at = nullptr;
      for (Operation &rule : op.getBody().getOps()) {
        auto heads = rule.getAttrOfType<DenseI64ArrayAttr>("heads");
        if (heads && llvm::is_contained(heads.asArrayRef(), group.heads[0])) {
          at = &rule;
          break;
        }
      }
      std::string where = headsPhrase(group.heads);
      if (!at) {
        op.emitError() << "no rule applies to " << where
                       << "; expected every head to see some key block";
      } else {
        InFlightDiagnostic diag =
            at->emitError() << "query blocks " << formatRanges(group.ranges)
                            << " of " << where << " see no key block";
        diag.attachNote(op.getLoc()) << "in pattern '" << p.name << "'";
      }
      ok = false;
    }

    std::string lengthError = checkAnalysisLength(p, seqLen);
    if (!lengthError.empty()) {
      op.emitError() << lengthError;
      return failure();
    }
    int64_t nb = numBlocks(p, seqLen);
    std::string at = std::to_string(int64_t(seqLen)) + " tokens (" +
                     std::to_string(nb) + " blocks)";

    CoverageStats cov;
    if (emitCoverage)
      cov = computeCoverage(p, seqLen);
    if (!cov.complete()) {
      InFlightDiagnostic diag = op.emitRemark();
      diag << "pattern '" << p.name << "' does not cover every "
           << (p.causal ? "causally visible" : "") << (p.causal ? " " : "")
           << "block at " << at << ": " << cov.uncovered
           << " block pairs seen by no head, first (query block, key block)";
      for (size_t k = 0; k < cov.sample.size(); ++k)
        diag << (k ? ", (" : " (") << cov.sample[k].first << ", "
             << cov.sample[k].second << ")";
    }

    if (emitStats) {
      DensityStats d = computeDensity(p, seqLen);
      std::vector<std::string> perHead;
      for (double x : d.density)
        perHead.push_back(fixed4(x));
      op.emitRemark() << "pattern '" << p.name << "' at " << at << ": density "
                      << fixed4(d.overall) << " overall; per head "
                      << groupedPerHead(perHead);

      KvCacheStats kv = computeKvCache(p, seqLen);
      if (kv.applicable) {
        InFlightDiagnostic diag = op.emitRemark();
        diag << "pattern '" << p.name << "' ";
        if (kv.allEfficient()) {
          diag << "is KV-cache efficient";
        } else {
          for (size_t h = 0; h < kv.efficient.size(); ++h) {
            if (kv.efficient[h])
              continue;
            const auto &v = kv.violation[h];
            diag << "is not KV-cache efficient: head " << h
                 << " drops key block " << v.keyBlock << " at query block "
                 << v.gap << " but uses it again at query block " << v.later;
            break;
          }
        }
        std::vector<std::string> kept;
        for (size_t h = 0; h < kv.fraction.size(); ++h)
          kept.push_back(fixed4(kv.fraction[h]) + " (" +
                         std::to_string(kv.keptBlocks[h]) + " of " +
                         std::to_string(nb) + " blocks)");
        diag << "; KV-cache fraction a decoder keeps after " << at << ": "
             << groupedPerHead(kept);
      }
    }
    return success(ok);
  }
};
} // namespace
