//===- Lexer.h - Lexer for .s2 pattern files --------------------*- C++ -*-===//
//
// Splits a pattern file held in an llvm::SourceMgr into tokens. Tokens are
// StringRefs into the source buffer, so every token knows its SMLoc; the one
// translateLocation() function turns such a location into the
// FileLineColLoc that every frontend diagnostic is attached to.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_COMPILER_FRONTEND_LEXER_H
#define S2C_COMPILER_FRONTEND_LEXER_H

#include "mlir/IR/Location.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

#include <cstdint>
#include <optional>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace s2c {

/// A token of a pattern file: its kind and its spelling in the buffer.
class Token {
public:
  enum Kind {
#define TOK_MARKER(NAME) NAME,
#define TOK_IDENTIFIER(NAME) NAME,
#define TOK_LITERAL(NAME) NAME,
#define TOK_PUNCTUATION(NAME, SPELLING) NAME,
#define TOK_KEYWORD(SPELLING) kw_##SPELLING,
#include "compiler/Frontend/TokenKinds.def"
  };

  Token(Kind kind, llvm::StringRef spelling) : kind(kind), spelling(spelling) {}

  Kind getKind() const { return kind; }
  bool is(Kind k) const { return kind == k; }
  bool isNot(Kind k) const { return kind != k; }
  /// True for identifiers and keywords (any word).
  bool isWord() const;
  bool isKeyword() const;
  llvm::StringRef getSpelling() const { return spelling; }
  llvm::SMLoc getLoc() const;

  /// The value of an integer token, or nullopt when it does not fit int64.
  std::optional<int64_t> getIntegerValue() const;

  /// A printable name of a token kind for diagnostics ("'{'", "integer").
  static llvm::StringRef getKindName(Kind kind);

private:
  Kind kind;
  llvm::StringRef spelling;
};

/// Turns a location in a SourceMgr buffer into a FileLineColLoc named after
/// the buffer's identifier. The single place frontend locations are made.
mlir::Location translateLocation(const llvm::SourceMgr &sourceMgr,
                                 mlir::MLIRContext *context, llvm::SMLoc loc);

/// The lexer over one buffer of a SourceMgr.
class Lexer {
public:
  Lexer(const llvm::SourceMgr &sourceMgr, unsigned bufferId,
        mlir::MLIRContext *context);

  const llvm::SourceMgr &getSourceMgr() const { return sourceMgr; }
  mlir::MLIRContext *getContext() const { return context; }
  const Token &getToken() const { return curToken; }
  /// Advances to the next token and returns it.
  const Token &lexToken() {
    curToken = lexTokenImpl();
    return curToken;
  }
  mlir::Location translateLocation(llvm::SMLoc loc) const {
    return s2c::translateLocation(sourceMgr, context, loc);
  }
  /// The file name of the buffer being lexed.
  llvm::StringRef getFileName() const;

private:
  Token lexTokenImpl();
  Token formToken(Token::Kind kind, const char *tokStart) {
    return Token(kind, llvm::StringRef(tokStart, curPtr - tokStart));
  }
  Token emitError(const char *loc, const llvm::Twine &message);
  Token lexIdentifierOrKeyword(const char *tokStart);
  Token lexNumber(const char *tokStart);
  void skipComment();

  const llvm::SourceMgr &sourceMgr;
  mlir::MLIRContext *context;
  llvm::StringRef curBuffer;
  const char *curPtr;
  Token curToken;
};

} // namespace s2c

#endif // S2C_COMPILER_FRONTEND_LEXER_H
