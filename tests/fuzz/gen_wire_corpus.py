#!/usr/bin/env python3
#   Write the seed corpus of fuzz_wire and fuzz_notify into corpus/<name>/,
#   in the harnesses' input format: one byte of frame count, then per frame
#   a 2-byte big-endian length and the bytes. Run once; the output is
#   committed.
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
UUID = b"3f2a6c1e-8b4d-4c1a-9e7f-0a1b2c3d4e5f"


def message(event_id=UUID, user_id=b"alice", description=b"Order shipped",
            attempt=1, created_at=1763713119123, version=b"ENP2", generation=0,
            frames=None):
    if frames is None:
        frames = [version, event_id, user_id, description,
                  struct.pack(">I", attempt), struct.pack(">q", created_at)]
        if version == b"ENP2":
            frames.append(struct.pack(">I", generation))
    out = bytes([len(frames)])
    for frame in frames:
        out += struct.pack(">H", len(frame)) + frame
    return out


SEEDS = {
    "valid": message(),
    "valid_v1": message(version=b"ENP1"),
    "generation": message(generation=7, attempt=3),
    "uppercase_id": message(event_id=UUID.upper()),
    "limits": message(user_id=b"u" * 256, description=b"d" * 4096),
    "extreme_numbers": message(attempt=0xFFFFFFFF, created_at=-(2 ** 63)),
    "utf8_and_binary": message(user_id="élève 😀".encode(),
                               description=b"\xff\xfe\x80 not utf-8"),
    "controls": message(user_id=b"bob: fake\\", description=b"a\nb\x1b[31m\x7f\t"),
    "c1_bidi": message(user_id="x\u0085\u202e".encode(),
                       description="\u2028\u2029\u061c\u200e\u2066\u009b".encode()),
    "nul_in_user_id": message(user_id=b"al\x00ice"),
    "user_id_257": message(user_id=b"u" * 257),
    "empty_description": message(description=b""),
    "bad_version": message(version=b"ENP3", frames=[b"ENP3", UUID, b"a", b"b",
                                                    struct.pack(">I", 1),
                                                    struct.pack(">q", 0),
                                                    struct.pack(">I", 0)]),
    "bad_uuid": message(event_id=b"3f2a6c1e-8b4d-4c1a-9e7f-0a1b2c3d4e5g"),
    "five_frames": message(frames=[b"ENP2", UUID, b"alice", b"hi",
                                   struct.pack(">I", 1)]),
}

def record(event_id=UUID, user_id=b"alice", description=b"Order shipped",
           attempt=1, created_at=1763713119123, generation=0):
    return (event_id + struct.pack(">I", attempt) + struct.pack(">q", created_at)
            + struct.pack(">I", generation) + struct.pack(">H", len(user_id)) + user_id
            + struct.pack(">H", len(description)) + description)


def batch(records, count=None):
    body = struct.pack(">H", len(records) if count is None else count) + b"".join(records)
    return message(frames=[b"ENP3", body])


BATCH_SEEDS = dict(SEEDS)
BATCH_SEEDS.update({
    "batch_one": batch([record()]),
    "batch_three": batch([record(), record(user_id=b"bob", generation=2, attempt=4),
                          record(event_id=b"00000000-0000-4000-8000-000000000001",
                                 description="élève 😀".encode())]),
    "batch_largest": batch([record(user_id=b"u" * 256, description=b"d" * 4096)] * 3),
    "batch_count_high": batch([record()], count=2),
    "batch_trailing": message(frames=[b"ENP3", struct.pack(">H", 1) + record() + b"x"]),
    "batch_bad_event": batch([record(), record(user_id=b"")]),
})

for harness in ("fuzz_wire", "fuzz_notify"):
    out = os.path.join(HERE, "corpus", harness)
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as seed:
            seed.write(data)

out = os.path.join(HERE, "corpus", "fuzz_wire_batch")
os.makedirs(out, exist_ok=True)
for name, data in BATCH_SEEDS.items():
    with open(os.path.join(out, name), "wb") as seed:
        seed.write(data)
