//  fuzz_frames - how the wire harnesses split their input into frames
//
//      byte 0          frame count, modulo FUZZ_FRAMES_MAX
//      then per frame  2-byte big-endian length, then that many bytes
//                      (clipped to what is left of the input)
//
//  Each frame is copied into its own exact-size heap block so ASan flags any
//  read past a frame's end (malloc (0) gives a block any read of which is
//  flagged too).
#ifndef FUZZ_FRAMES_H_INCLUDED
#define FUZZ_FRAMES_H_INCLUDED

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_FRAMES_MAX 9

//  Split data into frames; returns their count. The caller frees each.
static size_t
fuzz_frames_split (const uint8_t *data, size_t size, uint8_t **frames, size_t *sizes)
{
    size_t count = size? data [0] % FUZZ_FRAMES_MAX: 0;
    size_t offset = 1;
    for (size_t index = 0; index < count; index++) {
        size_t length = 0;
        if (size - offset >= 2) {
            length = ((size_t) data [offset] << 8) | data [offset + 1];
            offset += 2;
        }
        if (length > size - offset)
            length = size - offset;
        frames [index] = (uint8_t *) malloc (length);
        if (!frames [index] && length)
            abort ();
        if (length)
            memcpy (frames [index], data + offset, length);
        sizes [index] = length;
        offset += length;
    }
    return count;
}

#endif
