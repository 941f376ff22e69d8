//===- FrontendFuzzTest.cpp - Robustness and meaning of the frontend -----===//
//
// Two suites over compiler/Frontend, in process:
//  - FrontendFuzz: every example truncated at every token boundary, 10,000
//    random mutations (fixed seeds), and absurd sizes. The frontend must
//    never crash or hang, must fail with at least one error diagnostic
//    whenever it fails, and must emit no error when it succeeds; whatever it
//    accepts must pass s2::validatePattern.
//  - FrontendSema: what Sema makes of each example, compared with the
//    published formulas written out by hand here (not with the frontend).
//
//===----------------------------------------------------------------------===//

#include "compiler/Frontend/Lexer.h"
#include "compiler/Frontend/Parser.h"
#include "s2/Pattern.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#ifndef S2C_EXAMPLES_DIR
#error "S2C_EXAMPLES_DIR must point at examples/patterns"
#endif

namespace {

const char *const kExamples[] = {
    "s2_local_stride", "phi3_small",     "s2_hybrid",
    "sliding_window",  "longformer",     "bigbird",
    "bidirectional",   "context_ranges", "dense_causal"};

std::string readExample(const std::string &name) {
  std::ifstream in(std::string(S2C_EXAMPLES_DIR) + "/" + name + ".s2");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Parses `text` with a fresh SourceMgr; counts error diagnostics.
struct Frontend {
  mlir::MLIRContext context{mlir::MLIRContext::Threading::DISABLED};
  int errors = 0;
  int others = 0;
  mlir::ScopedDiagnosticHandler handler{&context, [this](mlir::Diagnostic &d) {
                                          if (d.getSeverity() ==
                                              mlir::DiagnosticSeverity::Error)
                                            ++errors;
                                          else
                                            ++others;
                                          return mlir::success();
                                        }};

  llvm::FailureOr<std::vector<s2c::ParsedPattern>>
  parse(const std::string &text) {
    errors = 0;
    others = 0;
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBufferCopy(text, "fuzz.s2"), llvm::SMLoc());
    return s2c::parsePatternFile(sourceMgr, context);
  }
};

/// The offsets at which the tokens of `text` start (plus its end).
std::vector<size_t> tokenStarts(const std::string &text) {
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  mlir::ScopedDiagnosticHandler quiet(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBuffer(text, "tokens.s2",
                                       /*RequiresNullTerminator=*/false),
      llvm::SMLoc());
  s2c::Lexer lexer(sourceMgr, sourceMgr.getMainFileID(), &context);
  std::vector<size_t> starts;
  for (const s2c::Token *tok = &lexer.getToken();
       tok->isNot(s2c::Token::eof) && tok->isNot(s2c::Token::error);
       tok = &lexer.lexToken())
    starts.push_back(size_t(tok->getSpelling().data() - text.data()));
  starts.push_back(text.size());
  return starts;
}

/// The invariants every parse must keep, whatever the input.
void checkOutcome(Frontend &fe,
                  const llvm::FailureOr<std::vector<s2c::ParsedPattern>> &r,
                  const std::string &input) {
  if (failed(r)) {
    EXPECT_GT(fe.errors, 0) << "failure without an error for:\n" << input;
    return;
  }
  EXPECT_EQ(fe.errors, 0) << "success with an error for:\n" << input;
  for (const s2c::ParsedPattern &pp : *r)
    EXPECT_EQ(s2::validatePattern(pp.pattern), "") << input;
}

//===----------------------------------------------------------------------===//
// FrontendFuzz
//===----------------------------------------------------------------------===//

TEST(FrontendFuzz, ExamplesParseWithoutDiagnostics) {
  Frontend fe;
  for (const char *name : kExamples) {
    std::string text = readExample(name);
    ASSERT_FALSE(text.empty()) << name;
    auto r = fe.parse(text);
    ASSERT_TRUE(succeeded(r)) << name;
    EXPECT_EQ(fe.errors + fe.others, 0) << name;
    ASSERT_EQ(r->size(), 1u) << name;
    EXPECT_EQ((*r)[0].pattern.name, name);
  }
}

TEST(FrontendFuzz, TruncatedAtEveryToken) {
  Frontend fe;
  size_t cases = 0;
  for (const char *name : kExamples) {
    std::string text = readExample(name);
    std::vector<size_t> starts = tokenStarts(text);
    ASSERT_GT(starts.size(), 10u) << name;
    // The first token is 'pattern' and the last the closing '}' of the
    // only pattern: every cut after the start of the one and before the
    // end of the other must fail (a file of comments only is empty, and
    // valid).
    size_t firstToken = starts.front();
    size_t lastBrace = starts[starts.size() - 2];
    for (size_t cut : starts) {
      for (size_t end : {cut, cut + 1}) {
        if (end > text.size())
          continue;
        std::string prefix = text.substr(0, end);
        auto r = fe.parse(prefix);
        checkOutcome(fe, r, prefix);
        if (end > firstToken && end <= lastBrace) {
          EXPECT_TRUE(failed(r)) << name << " cut at " << end;
        }
        ++cases;
      }
    }
  }
  EXPECT_GT(cases, 500u);
}

/// Fragments the mutator splices in, to reach deeper than random bytes do.
const char *const kDictionary[] = {"heads",
                                   "kv_heads",
                                   "block",
                                   "causal",
                                   "bidirectional",
                                   "head_dim",
                                   "dtype",
                                   "queries",
                                   "dense",
                                   "local",
                                   "stride",
                                   "shift",
                                   "shard",
                                   "offset",
                                   "sink",
                                   "global",
                                   "dilated",
                                   "step",
                                   "blocks",
                                   "h",
                                   "kv",
                                   "min",
                                   "max",
                                   "pattern",
                                   "{",
                                   "}",
                                   "(",
                                   ")",
                                   ";",
                                   ",",
                                   "..",
                                   "..<",
                                   "+",
                                   "-",
                                   "*",
                                   "/",
                                   "%",
                                   "0",
                                   "1",
                                   "7",
                                   "64",
                                   "1024",
                                   "-1",
                                   "4096",
                                   "//",
                                   "\n",
                                   "\xff",
                                   "\0",
                                   "99999999999999999999",
                                   "9223372036854775807",
                                   "16777216",
                                   "bf16"};

std::string mutate(std::string text, std::mt19937_64 &rng) {
  auto pick = [&](size_t n) { return n ? size_t(rng() % n) : 0; };
  int count = 1 + int(rng() % 4);
  for (int m = 0; m < count; ++m) {
    size_t pos = pick(text.size() + 1);
    switch (rng() % 6) {
    case 0: // Replace a byte with a random one.
      if (!text.empty())
        text[pick(text.size())] = char(rng() & 0xff);
      break;
    case 1: // Insert a random byte.
      text.insert(text.begin() + pos, char(rng() & 0xff));
      break;
    case 2: // Delete a run of bytes.
      if (pos < text.size())
        text.erase(pos, 1 + pick(std::min<size_t>(8, text.size() - pos)));
      break;
    case 3: { // Insert a dictionary word.
      std::string word = kDictionary[pick(std::size(kDictionary))];
      if (word.empty())
        word.assign(1, '\0');
      text.insert(pos, " " + word + " ");
      break;
    }
    case 4: { // Duplicate a slice.
      size_t from = pick(text.size() + 1);
      size_t len = pick(std::min<size_t>(64, text.size() - from) + 1);
      text.insert(pos, text.substr(from, len));
      break;
    }
    default: // Swap two bytes.
      if (text.size() > 1)
        std::swap(text[pick(text.size())], text[pick(text.size())]);
      break;
    }
  }
  return text;
}

TEST(FrontendFuzz, RandomMutations) {
  Frontend fe;
  std::vector<std::string> seeds;
  for (const char *name : kExamples)
    seeds.push_back(readExample(name));
  int accepted = 0, rejected = 0;
  auto start = std::chrono::steady_clock::now();
  for (uint64_t seed = 1; seed <= 10000; ++seed) {
    std::mt19937_64 rng(seed);
    std::string input = mutate(seeds[seed % seeds.size()], rng);
    auto r = fe.parse(input);
    checkOutcome(fe, r, input);
    (failed(r) ? rejected : accepted) += 1;
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  // Both outcomes must occur, or the mutator is not exercising the parser.
  EXPECT_GT(accepted, 100);
  EXPECT_GT(rejected, 1000);
  // No input may take long (a hang shows up here, well before CTest's
  // timeout, on any build type).
  EXPECT_LT(seconds, 120.0);
}

TEST(FrontendFuzz, AbsurdSizesAreErrors) {
  Frontend fe;
  const char *const inputs[] = {
      "pattern p { heads 1000000; dense; }",
      "pattern p { heads 9223372036854775807; dense; }",
      "pattern p { heads 99999999999999999999999999; dense; }",
      "pattern p { heads 4; block 0; dense; }",
      "pattern p { heads 4; kv_heads 0; dense; }",
      "pattern p { heads 4; heads 0..9223372036854775807 { dense; } }",
      "pattern p { heads 4; heads 0..<4 step 9223372036854775807 { dense; } }",
      "pattern p { heads 4; local 9223372036854775807; }",
      "pattern p { heads 4; sink 16777217; }",
      "pattern p { heads 4; dilated 9223372036854775807 step 2; }",
      "pattern p { heads 4; dilated 4096 step 4097; }",
      "pattern p { heads 4; stride 9223372036854775807 shard; }",
      "pattern p { heads 4; stride 8 shift 9223372036854775807 + h; }",
      "pattern p { heads 4; stride 8 shift -9223372036854775807 - 2; }",
      "pattern p { heads 4; stride 8 shift (-9223372036854775807 - 1) / -1; }",
      "pattern p { heads 4; stride 8 shift (-9223372036854775807 - 1) % -1 "
      "+ 1 / 0; }",
      "pattern p { heads 4; global 0..16777216; }",
      "pattern p { heads 4; global 0..9223372036854775807; }",
      "pattern p { heads 4; blocks (0..16777216, 0..16777216); }",
      "pattern p { heads 4; queries 0..9223372036854775807 { dense; } }",
      "pattern p { heads 4; queries 9223372036854775807.. { dense; } }",
  };
  for (const char *input : inputs) {
    auto r = fe.parse(input);
    EXPECT_TRUE(failed(r)) << input;
    checkOutcome(fe, r, input);
  }
}

TEST(FrontendFuzz, DeepNestingAndHugeFilesAreErrors) {
  Frontend fe;
  // Deep scopes and parentheses: a bounded depth, not a stack overflow.
  std::string scopes = "pattern p { heads 4; ";
  for (int k = 0; k < 100000; ++k)
    scopes += "heads 0 { ";
  auto r = fe.parse(scopes);
  EXPECT_TRUE(failed(r));
  checkOutcome(fe, r, "deep scopes");

  std::string parens = "pattern p { heads 4; stride 8 shift " +
                       std::string(200000, '(') + "h" +
                       std::string(200000, ')') + "; }";
  r = fe.parse(parens);
  EXPECT_TRUE(failed(r));
  checkOutcome(fe, r, "deep parentheses");

  std::string minus = "pattern p { heads 4; stride 8 shift " +
                      std::string(200000, '-') + "h; }";
  r = fe.parse(minus);
  EXPECT_TRUE(failed(r));
  checkOutcome(fe, r, "deep unary minus");

  std::string chain = "pattern p { heads 4; stride 8 shift h";
  for (int k = 0; k < 200000; ++k)
    chain += " + h";
  chain += "; }";
  r = fe.parse(chain);
  EXPECT_TRUE(failed(r));
  checkOutcome(fe, r, "long operator chain");

  // Too many rules: an error, not gigabytes of head sets and shift tables.
  std::string many = "pattern p { heads 1024; ";
  for (int k = 0; k < 100000; ++k)
    many += "stride 8 shard; ";
  many += "}";
  r = fe.parse(many);
  EXPECT_TRUE(failed(r));
  checkOutcome(fe, r, "many rules");

  // Many explicit blocks over several rules: capped per pattern.
  std::string blocks = "pattern p { heads 4; ";
  for (int k = 0; k < 64; ++k)
    blocks += "global 0..<65536; ";
  blocks += "}";
  r = fe.parse(blocks);
  EXPECT_TRUE(failed(r));
  checkOutcome(fe, r, "many blocks");

  // The largest legal pattern still works.
  std::string big = "pattern p { heads 1024; kv_heads 1; block 16; "
                    "local 16777216; stride 16777216 shift h - 16777216; "
                    "global 0..<1000; }";
  r = fe.parse(big);
  EXPECT_TRUE(succeeded(r));
  checkOutcome(fe, r, big);
}

//===----------------------------------------------------------------------===//
// FrontendSema: the examples against hand-written formulas
//===----------------------------------------------------------------------===//

s2::Pattern loadExample(const char *name) {
  Frontend fe;
  auto r = fe.parse(readExample(name));
  if (failed(r) || r->size() != 1) {
    ADD_FAILURE() << "example " << name << " does not parse";
    return {};
  }
  return std::move((*r)[0].pattern);
}

using Expected = std::function<bool(int64_t h, int64_t i, int64_t j)>;

/// Compares the oracle on Sema's pattern with `expected` for every head
/// over nb x nb blocks.
void expectMask(const s2::Pattern &p, int64_t nb, const Expected &expected) {
  ASSERT_GT(p.heads, 0);
  for (int64_t h = 0; h < p.heads; ++h)
    for (int64_t i = 0; i < nb; ++i)
      for (int64_t j = 0; j < nb; ++j)
        ASSERT_EQ(s2::blockVisible(p, h, i, j), expected(h, i, j))
            << p.name << " head " << h << " query block " << i << " key block "
            << j;
}

/// DESIGN.md's published S2 rule (DKernel, causal): j <= i and (i - j < L
/// or (j + g * max(1, V / H) + offset) mod V == 0), g the KV head of h.
bool s2Rule(int64_t h, int64_t i, int64_t j, int64_t heads, int64_t groupSize,
            int64_t local, int64_t stride, int64_t offset = 0) {
  if (j > i)
    return false;
  int64_t g = h / groupSize;
  return i - j < local ||
         (j + g * std::max<int64_t>(1, stride / heads) + offset) % stride == 0;
}

TEST(FrontendSema, S2LocalStrideIsThePaperPattern) {
  s2::Pattern p = loadExample("s2_local_stride");
  EXPECT_EQ(p.heads, 32);
  EXPECT_EQ(p.kvHeads, 32);
  EXPECT_EQ(p.block, 64);
  EXPECT_TRUE(p.causal);
  EXPECT_EQ(p.headDim, 128);
  EXPECT_EQ(p.dtype, s2::DType::BF16);
  ASSERT_EQ(p.rules.size(), 2u);
  const s2::Rule &stride = p.rules[1];
  ASSERT_EQ(stride.kind, s2::RuleKind::Stride);
  for (int64_t h = 0; h < 32; ++h)
    EXPECT_EQ(stride.shift[h], s2::shardShift(p, h, 16, 0)) << h;
  expectMask(p, 96, [](int64_t h, int64_t i, int64_t j) {
    return s2Rule(h, i, j, 32, 1, 16, 16);
  });
}

TEST(FrontendSema, Phi3SmallRotatesOverKVHeads) {
  s2::Pattern p = loadExample("phi3_small");
  EXPECT_EQ(p.heads, 32);
  EXPECT_EQ(p.kvHeads, 8);
  EXPECT_EQ(p.block, 64);
  expectMask(p, 96, [](int64_t h, int64_t i, int64_t j) {
    return s2Rule(h, i, j, 32, 4, 16, 8);
  });
}

TEST(FrontendSema, S2HybridHasDenseLastHeads) {
  s2::Pattern p = loadExample("s2_hybrid");
  expectMask(p, 80, [](int64_t h, int64_t i, int64_t j) {
    if (h >= 28)
      return j <= i;
    return s2Rule(h, i, j, 32, 4, 16, 8);
  });
}

TEST(FrontendSema, SlidingWindow) {
  s2::Pattern p = loadExample("sliding_window");
  expectMask(p, 64, [](int64_t, int64_t i, int64_t j) {
    return j <= i && i - j < 16;
  });
}

TEST(FrontendSema, DenseCausal) {
  s2::Pattern p = loadExample("dense_causal");
  EXPECT_EQ(p.headDim, 128);
  EXPECT_EQ(p.dtype, s2::DType::BF16);
  expectMask(p, 40, [](int64_t, int64_t i, int64_t j) { return j <= i; });
}

TEST(FrontendSema, LongformerWindowAndGlobalBlocks) {
  s2::Pattern p = loadExample("longformer");
  EXPECT_FALSE(p.causal);
  expectMask(p, 48, [](int64_t, int64_t i, int64_t j) {
    return std::abs(i - j) < 4 || i <= 1 || j <= 1;
  });
}

TEST(FrontendSema, BigBirdWindowGlobalAndIrregularBlocks) {
  s2::Pattern p = loadExample("bigbird");
  std::vector<std::pair<int64_t, int64_t>> first = {
      {2, 9}, {3, 11}, {5, 1}, {5, 2}, {7, 12}, {9, 4}, {11, 6}, {13, 3}};
  std::vector<std::pair<int64_t, int64_t>> second = {
      {2, 13}, {4, 8}, {6, 10}, {6, 11}, {8, 3}, {10, 5}, {12, 2}, {14, 7}};
  expectMask(p, 24, [&](int64_t h, int64_t i, int64_t j) {
    if (std::abs(i - j) < 2 || i == 0 || i == 15 || j == 0 || j == 15)
      return true;
    const auto &pairs = h < 6 ? first : second;
    return std::find(pairs.begin(), pairs.end(), std::make_pair(i, j)) !=
           pairs.end();
  });
}

TEST(FrontendSema, BidirectionalLocalStrideAndDilation) {
  s2::Pattern p = loadExample("bidirectional");
  EXPECT_FALSE(p.causal);
  EXPECT_EQ(p.block, 128);
  expectMask(p, 48, [](int64_t h, int64_t i, int64_t j) {
    int64_t d = std::abs(i - j);
    if (d < 8 || (j + h / 2) % 8 == 0)
      return true;
    return h % 2 == 1 && d < 16 && d % 4 == 0;
  });
}

TEST(FrontendSema, ContextRangesDenseThenLocalStride) {
  s2::Pattern p = loadExample("context_ranges");
  // 4096 tokens = 64 blocks of 64 are dense, local-stride after; 2 sink
  // blocks everywhere.
  expectMask(p, 100, [](int64_t h, int64_t i, int64_t j) {
    if (j > i)
      return false;
    if (j < 2 || i < 64)
      return true;
    return s2Rule(h, i, j, 32, 4, 16, 8);
  });
}

TEST(FrontendSema, RulesCarryTheirSourcePositions) {
  s2::Pattern p = loadExample("s2_hybrid");
  // heads 0..27 { local 16; stride 8 shard; } / heads 28..31 { dense; }
  ASSERT_EQ(p.rules.size(), 3u);
  EXPECT_EQ(p.rules[0].loc.line, 7);
  EXPECT_EQ(p.rules[0].loc.col, 17);
  EXPECT_EQ(p.rules[1].loc.line, 7);
  EXPECT_EQ(p.rules[1].loc.col, 27);
  EXPECT_EQ(p.rules[2].loc.line, 8);
  EXPECT_EQ(p.rules[2].loc.col, 18);
  EXPECT_EQ(p.loc.line, 3);
  EXPECT_EQ(p.loc.col, 1);
}

} // namespace
