#!/usr/bin/env python3
#   Write the seed corpus of fuzz_wire into corpus/fuzz_wire/, in the
#   harness's input format: one byte of frame count, then per frame a 2-byte
#   big-endian length and the bytes. Run once; the output is committed.
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_wire")
UUID = b"3f2a6c1e-8b4d-4c1a-9e7f-0a1b2c3d4e5f"


def message(event_id=UUID, user_id=b"alice", description=b"Order shipped",
            attempt=1, created_at=1763713119123, version=b"ENP1", frames=None):
    if frames is None:
        frames = [version, event_id, user_id, description,
                  struct.pack(">I", attempt), struct.pack(">q", created_at)]
    out = bytes([len(frames)])
    for frame in frames:
        out += struct.pack(">H", len(frame)) + frame
    return out


SEEDS = {
    "valid": message(),
    "uppercase_id": message(event_id=UUID.upper()),
    "limits": message(user_id=b"u" * 256, description=b"d" * 4096),
    "extreme_numbers": message(attempt=0xFFFFFFFF, created_at=-(2 ** 63)),
    "utf8_and_binary": message(user_id="élève 😀".encode(),
                               description=b"\xff\xfe\x80 not utf-8"),
    "nul_in_user_id": message(user_id=b"al\x00ice"),
    "user_id_257": message(user_id=b"u" * 257),
    "empty_description": message(description=b""),
    "bad_version": message(version=b"ENP2"),
    "bad_uuid": message(event_id=b"3f2a6c1e-8b4d-4c1a-9e7f-0a1b2c3d4e5g"),
    "five_frames": message(frames=[b"ENP1", UUID, b"alice", b"hi",
                                   struct.pack(">I", 1)]),
    "seven_frames": message(frames=[b"ENP1", UUID, b"alice", b"hi",
                                    struct.pack(">I", 1),
                                    struct.pack(">q", 0), b"extra"]),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as seed:
        seed.write(data)
