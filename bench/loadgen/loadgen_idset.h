//  loadgen_idset - find the index of an event id among the ones posted
#ifndef LOADGEN_IDSET_H_INCLUDED
#define LOADGEN_IDSET_H_INCLUDED

#define LOADGEN_ID_MAX 64       //  room for an event id and its NUL

typedef struct _loadgen_idset_t loadgen_idset_t;

//  Index the count ids (borrowed, must outlive the set; empty ones are
//  skipped). Caller owns the result.
loadgen_idset_t *loadgen_idset_new (char (*ids) [LOADGEN_ID_MAX], long count);
//  Free the set; nulls the caller's pointer.
void loadgen_idset_destroy (loadgen_idset_t **self_p);
//  Return the index of id, or -1 when it is not one of ours.
long loadgen_idset_find (loadgen_idset_t *self, const char *id);

#endif
