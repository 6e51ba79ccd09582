#!/usr/bin/env python3
"""Writes the safetensors fixtures of Tessera's nn tests with nothing but json, struct and NumPy,
following the published format: u64 little-endian header length, JSON header, raw little-endian data.

Usage: python3 make_fixtures.py            (re-creates the fixtures beside this script)
       python3 make_fixtures.py verify F   (checks that a file Tessera wrote parses under this reader)
"""
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def bf16_bits(values):
    """float32 -> bfloat16 bit patterns, round to nearest even (NumPy has no bfloat16)."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def write(path, tensors, metadata=None, shuffle=False):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    names = list(tensors)
    if shuffle:  # data order different from header order is legal
        names = names[::-1]
    for name in names:
        dtype, array = tensors[name]
        raw = array.tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode("utf-8")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def fixtures():
    tensors = {
        "a.f32": ("F32", (np.arange(6, dtype=np.float32) * 0.5 - 1).reshape(2, 3)),
        "b.f64": ("F64", np.array([1e-300, -2.5, 3.25, np.pi], dtype="<f8")),
        "c.f16": ("F16", np.array([1.0, -0.5, 65504.0], dtype="<f2")),
        "d.bf16": ("BF16", bf16_bits([1.5, -3.0, 0.1]).reshape(3)),
        "e.i64": ("I64", np.array([2 ** 40, -7], dtype="<i8")),
        "f.i32": ("I32", np.array([[1, -2], [3, 2 ** 31 - 1]], dtype="<i4")),
        "g.u8": ("U8", np.array([0, 1, 200, 255], dtype=np.uint8)),
        "h.bool": ("BOOL", np.array([True, False, True], dtype=np.bool_)),
        "i.scalar": ("F32", np.array(7.0, dtype="<f4")),
        "j.empty": ("F32", np.zeros((0, 3), dtype="<f4")),
    }
    write(os.path.join(HERE, "python_written.safetensors"), tensors,
          metadata={"format": "pt", "made_by": "make_fixtures.py"}, shuffle=True)


def verify(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    np_types = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1", "BOOL": "?", "BF16": "<u2"}
    for name, e in header.items():
        if name == "__metadata__":
            print("metadata", e)
            continue
        b, end = e["data_offsets"]
        arr = np.frombuffer(data[b:end], dtype=np_types[e["dtype"]]).reshape(e["shape"])
        print(name, e["dtype"], e["shape"], arr.ravel()[:6])
    assert (8 + n) % 8 == 0, "data section not 8-byte aligned"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "verify":
        verify(sys.argv[2])
    else:
        fixtures()
