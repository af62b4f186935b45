//  logger_paths - where the logger's installed files are
#ifndef LOGGER_PATHS_H_INCLUDED
#define LOGGER_PATHS_H_INCLUDED

//  Return path taken relative to the folder that holds the running
//  executable (an absolute path comes back as it is), so files laid out
//  beside bin/ are found wherever the tree was built or installed. The
//  result is canonical when the path exists. Returns NULL when the
//  executable's own path cannot be read or memory runs out. Caller owns
//  the result.
char *logger_paths_beside_exe (const char *path);

#endif
