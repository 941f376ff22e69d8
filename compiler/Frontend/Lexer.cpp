//===- Lexer.cpp - Lexer for .s2 pattern files ----------------------------===//
//
// A hand-written lexer in the style of CIRCT's FIRLexer: one character of
// look-ahead, tokens as StringRefs into the buffer, errors reported through
// mlir::emitError at the offending character.
//
//===----------------------------------------------------------------------===//

#include "compiler/Frontend/Lexer.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace s2c;
using llvm::SMLoc;
using llvm::StringRef;

//===----------------------------------------------------------------------===//
// Token
//===----------------------------------------------------------------------===//

SMLoc Token::getLoc() const { return SMLoc::getFromPointer(spelling.data()); }

bool Token::isKeyword() const {
  switch (kind) {
#define TOK_KEYWORD(SPELLING) case kw_##SPELLING:
#include "compiler/Frontend/TokenKinds.def"
    return true;
  default:
    return false;
  }
}

bool Token::isWord() const { return kind == identifier || isKeyword(); }

std::optional<int64_t> Token::getIntegerValue() const {
  int64_t value = 0;
  // getAsInteger returns true on overflow or malformed input.
  if (spelling.getAsInteger(10, value))
    return std::nullopt;
  return value;
}

StringRef Token::getKindName(Kind kind) {
  switch (kind) {
  case eof:
    return "end of file";
  case error:
    return "invalid token";
  case identifier:
    return "identifier";
  case integer:
    return "integer";
#define TOK_PUNCTUATION(NAME, SPELLING)                                        \
  case NAME:                                                                   \
    return "'" SPELLING "'";
#define TOK_KEYWORD(SPELLING)                                                  \
  case kw_##SPELLING:                                                          \
    return "'" #SPELLING "'";
#include "compiler/Frontend/TokenKinds.def"
  }
  return "token";
}

//===----------------------------------------------------------------------===//
// Lexer
//===----------------------------------------------------------------------===//

mlir::Location s2c::translateLocation(const llvm::SourceMgr &sourceMgr,
                                      mlir::MLIRContext *context, SMLoc loc) {
  unsigned bufferId = sourceMgr.FindBufferContainingLoc(loc);
  if (bufferId == 0)
    bufferId = sourceMgr.getMainFileID();
  const llvm::MemoryBuffer *buffer = sourceMgr.getMemoryBuffer(bufferId);
  if (!loc.isValid() || loc.getPointer() < buffer->getBufferStart() ||
      loc.getPointer() > buffer->getBufferEnd())
    return mlir::FileLineColLoc::get(context, buffer->getBufferIdentifier(), 0,
                                     0);
  auto lineAndCol = sourceMgr.getLineAndColumn(loc, bufferId);
  return mlir::FileLineColLoc::get(context, buffer->getBufferIdentifier(),
                                   lineAndCol.first, lineAndCol.second);
}

Lexer::Lexer(const llvm::SourceMgr &sourceMgr, unsigned bufferId,
             mlir::MLIRContext *context)
    : sourceMgr(sourceMgr), context(context),
      curBuffer(sourceMgr.getMemoryBuffer(bufferId)->getBuffer()),
      curPtr(curBuffer.begin()),
      // Prime the first token.
      curToken(lexTokenImpl()) {}

StringRef Lexer::getFileName() const {
  return sourceMgr
      .getMemoryBuffer(sourceMgr.FindBufferContainingLoc(
          SMLoc::getFromPointer(curBuffer.begin())))
      ->getBufferIdentifier();
}

Token Lexer::emitError(const char *loc, const llvm::Twine &message) {
  mlir::emitError(translateLocation(SMLoc::getFromPointer(loc)), message);
  return formToken(Token::error, loc);
}

Token Lexer::lexTokenImpl() {
  while (true) {
    const char *tokStart = curPtr;
    if (curPtr == curBuffer.end())
      return formToken(Token::eof, tokStart);
    char c = *curPtr++;
    switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\r':
    case '\f':
    case '\v':
      continue;
    case '{':
      return formToken(Token::l_brace, tokStart);
    case '}':
      return formToken(Token::r_brace, tokStart);
    case '(':
      return formToken(Token::l_paren, tokStart);
    case ')':
      return formToken(Token::r_paren, tokStart);
    case ';':
      return formToken(Token::semi, tokStart);
    case ',':
      return formToken(Token::comma, tokStart);
    case '+':
      return formToken(Token::plus, tokStart);
    case '-':
      return formToken(Token::minus, tokStart);
    case '*':
      return formToken(Token::star, tokStart);
    case '%':
      return formToken(Token::percent, tokStart);
    case '/':
      if (curPtr != curBuffer.end() && *curPtr == '/') {
        skipComment();
        continue;
      }
      return formToken(Token::slash, tokStart);
    case '.':
      if (curPtr != curBuffer.end() && *curPtr == '.') {
        ++curPtr;
        if (curPtr != curBuffer.end() && *curPtr == '<') {
          ++curPtr;
          return formToken(Token::dotdot_less, tokStart);
        }
        return formToken(Token::dotdot, tokStart);
      }
      return emitError(tokStart, "unexpected character '.'; expected '..' or "
                                 "'..<' for a range");
    default:
      if (llvm::isDigit(c))
        return lexNumber(tokStart);
      if (llvm::isAlpha(c) || c == '_')
        return lexIdentifierOrKeyword(tokStart);
      {
        std::string text;
        llvm::raw_string_ostream os(text);
        unsigned char uc = static_cast<unsigned char>(c);
        if (llvm::isPrint(uc))
          os << "unexpected character '" << c << "'";
        else
          os << "unexpected character '\\x"
             << llvm::format_hex_no_prefix(uc, 2, /*Upper=*/true) << "'";
        return emitError(tokStart, os.str());
      }
    }
  }
}

void Lexer::skipComment() {
  // The second '/' is at curPtr; skip to the end of the line.
  while (curPtr != curBuffer.end() && *curPtr != '\n' && *curPtr != '\r')
    ++curPtr;
}

Token Lexer::lexNumber(const char *tokStart) {
  while (curPtr != curBuffer.end() && llvm::isDigit(*curPtr))
    ++curPtr;
  return formToken(Token::integer, tokStart);
}

Token Lexer::lexIdentifierOrKeyword(const char *tokStart) {
  while (curPtr != curBuffer.end() &&
         (llvm::isAlnum(*curPtr) || *curPtr == '_'))
    ++curPtr;
  StringRef spelling(tokStart, curPtr - tokStart);
  Token::Kind kind = llvm::StringSwitch<Token::Kind>(spelling)
#define TOK_KEYWORD(SPELLING) .Case(#SPELLING, Token::kw_##SPELLING)
#include "compiler/Frontend/TokenKinds.def"
                         .Default(Token::identifier);
  return Token(kind, spelling);
}
