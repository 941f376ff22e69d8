//===- S2Attrs.td - Attributes of the s2 dialect -----------*- tablegen -*-===//
//
// Enumerated attributes of the s2 dialect: the element type a pattern's
// kernels are fixed to (mirrors s2::DType).
//
//===----------------------------------------------------------------------===//

#ifndef S2C_DIALECT_IR_S2ATTRS_TD
#define S2C_DIALECT_IR_S2ATTRS_TD

include "dialect/IR/S2Dialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def S2_DTypeAny  : I32EnumAttrCase<"Any", 0, "any">;
def S2_DTypeBF16 : I32EnumAttrCase<"BF16", 1, "bf16">;
def S2_DTypeF16  : I32EnumAttrCase<"F16", 2, "f16">;

def S2_DTypeEnum : I32EnumAttr<"DType", "element type of a pattern's kernels",
    [S2_DTypeAny, S2_DTypeBF16, S2_DTypeF16]> {
  let cppNamespace = "::s2c";
  let genSpecializedAttr = 0;
}

/// `#s2.dtype<bf16>`; printed as a bare keyword inside ops.
def S2_DTypeAttr : EnumAttr<S2_Dialect, S2_DTypeEnum, "dtype">;

#endif // S2C_DIALECT_IR_S2ATTRS_TD
