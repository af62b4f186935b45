#   Turn the SQL schema files of a folder (NNNN_name.sql, applied in order)
#   into a C source defining the table the PostgreSQL store applies:
#       const logger_schema_file_t logger_schema_files [];
#       const size_t logger_schema_count;
#   Usage: cmake -DDIR=folder -DOUTPUT=file.c -P embed_schema.cmake
file (GLOB files "${DIR}/[0-9][0-9][0-9][0-9]_*.sql")
list (SORT files)
set (body "//  Generated from ${DIR} by cmake/embed_schema.cmake; do not edit.\n")
string (APPEND body "#include <stddef.h>\n#include \"logger_store_pg.h\"\n\n")
set (table "")
set (count 0)
foreach (path ${files})
    get_filename_component (name "${path}" NAME)
    string (SUBSTRING "${name}" 0 4 digits)
    math (EXPR version "${digits}")
    file (READ "${path}" content HEX)
    string (REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
    string (REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)"
            "\\1\n    " bytes "${bytes}")
    string (APPEND body "static const unsigned char s_schema_${version} [] = {\n    ${bytes}0x00\n};\n")
    string (APPEND table "    { ${version}, \"${name}\", (const char *) s_schema_${version} },\n")
    math (EXPR count "${count} + 1")
endforeach ()
string (APPEND body "\nconst logger_schema_file_t logger_schema_files [] = {\n${table}    { 0, NULL, NULL }\n};\n")
string (APPEND body "const size_t logger_schema_count = ${count};\n")
file (WRITE "${OUTPUT}.tmp" "${body}")
#   Only touch the output when it changed, so nothing rebuilds for nothing
execute_process (COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
file (REMOVE "${OUTPUT}.tmp")
