#   Turn a file into a C source defining SYMBOL (bytes) and SYMBOL_size.
#   Usage: cmake -DINPUT=f -DOUTPUT=f.c -DSYMBOL=name -P embed.cmake
file (READ "${INPUT}" content HEX)
string (LENGTH "${content}" hex_length)
math (EXPR size "${hex_length} / 2")
string (REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
string (REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)"
        "\\1\n    " bytes "${bytes}")
file (WRITE "${OUTPUT}"
"//  Generated from ${INPUT} by cmake/embed.cmake; do not edit.\n#include <stddef.h>\n"
"const unsigned char ${SYMBOL} [] = {\n    ${bytes}0x00\n};\n"
"const size_t ${SYMBOL}_size = ${size};\n")
