#!/usr/bin/env python3
"""Writes the PyTorch checkpoint fixtures of Tessera's TorchStateDict tests WITHOUT torch, using only
zipfile, pickle, struct and NumPy.

The files follow the layout torch.save writes since PyTorch 1.6 (the zip "new serialization" format):

    archive/data.pkl      pickle (protocol 2 by default) of the state dict
    archive/byteorder     "little"
    archive/data/<key>    raw little-endian bytes of each storage, one record per storage
    archive/version       "3"

Inside data.pkl every tensor is ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
requires_grad, backward_hooks)`` and every storage is a persistent id
``('storage', torch.FloatStorage, key, location, numel)`` -- exactly what torch's own Pickler emits.
To get byte-identical opcodes without torch, this script registers stand-in modules named ``torch`` and
``torch._utils`` in sys.modules whose objects carry the right names, so pickle's own save_global writes
``GLOBAL 'torch._utils _rebuild_tensor_v2'`` and friends; nothing from them is ever called.

The malicious fixtures are written opcode by opcode so that it is obvious what they contain.

Usage: python3 make_pt_fixtures.py      (re-creates the fixtures beside this script)
"""
import collections
import io
import os
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


# --- stand-ins for the torch names that appear in a checkpoint pickle -------------------------------

def _install_fake_torch():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # never called: only its name is pickled
        raise AssertionError("stand-in")

    def _rebuild_parameter(*args):
        raise AssertionError("stand-in")

    for f in (_rebuild_tensor_v2, _rebuild_parameter):
        f.__module__ = "torch._utils"
        f.__qualname__ = f.__name__  # pickle looks the object up by module + qualified name
        setattr(utils, f.__name__, f)
    torch._utils = utils
    for name in ("FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "IntStorage",
                 "LongStorage", "ByteStorage", "BoolStorage", "ShortStorage"):
        cls = type(name, (), {})
        cls.__module__ = "torch"
        cls.__qualname__ = name
        setattr(torch, name, cls)
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return torch, utils


TORCH, UTILS = _install_fake_torch()

STORAGE_TYPES = {  # NumPy dtype string -> torch storage class name
    "<f4": "FloatStorage", "<f8": "DoubleStorage", "<f2": "HalfStorage", "bf16": "BFloat16Storage",
    "<i4": "IntStorage", "<i8": "LongStorage", "|u1": "ByteStorage", "|b1": "BoolStorage", "<i2": "ShortStorage",
}


def bf16_bits(values):
    """float32 -> bfloat16 bit patterns, round to nearest even (NumPy has no bfloat16)."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


class Storage:
    """One storage record: raw little-endian bytes written to archive/data/<key>."""

    def __init__(self, key, type_name, raw, numel):
        self.key, self.type_name, self.raw, self.numel = key, type_name, raw, numel


class FakeTensor:
    """Pickles as torch.Tensor does: a REDUCE of _rebuild_tensor_v2 over a persistent-id storage."""

    def __init__(self, storage, offset, size, stride, parameter=False):
        self.storage, self.offset, self.size, self.stride, self.parameter = storage, offset, tuple(size), tuple(stride), parameter

    def __reduce__(self):
        plain = (UTILS._rebuild_tensor_v2,
                 (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()))
        if not self.parameter:
            return plain
        # nn.Parameter pickles as _rebuild_parameter(data, requires_grad, backward_hooks)
        inner = FakeTensor(self.storage, self.offset, self.size, self.stride)
        return (UTILS._rebuild_parameter, (inner, True, collections.OrderedDict()))


class Builder:
    """Collects storages and numbers their keys "0", "1", ... like torch.save."""

    def __init__(self):
        self.storages = []

    def storage(self, array, kind=None):
        kind = kind or array.dtype.str
        flat = np.ascontiguousarray(array).reshape(-1)
        s = Storage(str(len(self.storages)), STORAGE_TYPES[kind], flat.tobytes(), flat.size)
        self.storages.append(s)
        return s

    def tensor(self, array, kind=None):
        """A contiguous tensor with its own storage."""
        s = self.storage(array, kind)
        return FakeTensor(s, 0, array.shape, contiguous_strides(array.shape))


def contiguous_strides(shape):
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return tuple(reversed(strides))


class TorchPickler(pickle.Pickler):
    """torch.save's pickler: storages become persistent ids instead of pickled objects."""

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(TORCH, obj.type_name), obj.key, "cpu", obj.numel)
        return None


def pickle_bytes(obj, protocol=2):
    buf = io.BytesIO()
    TorchPickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def write_zip(path, pkl, storages, archive="archive", drop_keys=()):
    # torch writes every record uncompressed; so do we. A fixed timestamp keeps re-runs byte-identical.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        def put(name, data):
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
        put(f"{archive}/data.pkl", pkl)
        put(f"{archive}/byteorder", "little")
        for s in storages:
            if s.key not in drop_keys:
                put(f"{archive}/data/{s.key}", s.raw)
        put(f"{archive}/version", "3\n")


def state_dict_fixture(protocol):
    """Every supported dtype, shared storage, a transposed view, storage offsets and a 0-dim tensor."""
    b = Builder()
    sd = collections.OrderedDict()
    w = (np.arange(6, dtype="<f4") * 0.5 - 1).reshape(2, 3)  # [[-1,-0.5,0],[0.5,1,1.5]]
    ws = b.storage(w)
    sd["linear.weight"] = FakeTensor(ws, 0, (2, 3), (3, 1))
    sd["linear.weight_t"] = FakeTensor(ws, 0, (3, 2), (1, 3))  # w.t(): same storage, strides swapped
    # a bias that lives at offset 2 of a larger storage of 5 floats: [10,11,12,13,14] -> [12,13,14]
    sd["linear.bias"] = FakeTensor(b.storage(np.arange(10, 15, dtype="<f4")), 2, (3,), (1,))
    # 3-d permuted view with an offset: storage 0..29, offset 1, size (2,3,2), strides (1,10,4)
    big = b.storage(np.arange(30, dtype="<f4"))
    sd["view.strided3d"] = FakeTensor(big, 1, (2, 3, 2), (1, 10, 4))
    sd["f64"] = b.tensor(np.array([1e-300, -2.5, 3.25, np.pi], dtype="<f8"))
    sd["half"] = b.tensor(np.array([1.0, -0.5, 65504.0, 2.0 ** -24], dtype="<f2"))
    sd["bf16"] = b.tensor(bf16_bits([1.5, -3.0, 0.1]), "bf16")
    sd["steps"] = b.tensor(np.array([2 ** 40, -7], dtype="<i8"))
    sd["i32"] = b.tensor(np.array([[1, -2], [3, 2 ** 31 - 1]], dtype="<i4"))
    sd["u8"] = b.tensor(np.array([0, 1, 200, 255], dtype="|u1"))
    sd["mask"] = b.tensor(np.array([True, False, True], dtype="|b1"))
    sd["scalar"] = FakeTensor(b.storage(np.array([7.0], dtype="<f4")), 0, (), ())
    sd["empty"] = FakeTensor(b.storage(np.zeros(0, dtype="<f4")), 0, (0, 3), (3, 1))
    sd["param"] = FakeTensor(b.storage(np.array([0.25, -4.0], dtype="<f4")), 0, (2,), (1,), parameter=True)
    # what nn.Module.state_dict() attaches: pickled as BUILD with this attribute dict
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("linear", {"version": 1})])
    return pickle_bytes(sd, protocol), b.storages


def wrapped_fixture():
    """A training checkpoint: a plain dict holding the state dict under "model" plus non-tensor entries."""
    b = Builder()
    model = collections.OrderedDict([("w", b.tensor(np.array([1.0, 2.0], dtype="<f4")))])
    ckpt = {"model": model, "step": 1234, "lr": 0.5, "name": "run-1", "history": [1, 2, 3], "flag": None}
    return pickle_bytes(ckpt), b.storages


def unsupported_dtype_fixture():
    b = Builder()
    sd = collections.OrderedDict([("ok", b.tensor(np.array([1.0], dtype="<f4"))),
                                  ("shorts", b.tensor(np.array([1, 2], dtype="<i2")))])
    return pickle_bytes(sd), b.storages


def out_of_bounds_fixture():
    b = Builder()
    s = b.storage(np.arange(4, dtype="<f4"))
    sd = collections.OrderedDict([("too_big", FakeTensor(s, 1, (2, 2), (2, 1)))])  # needs 5 elements, has 4
    return pickle_bytes(sd), b.storages


# --- hand-written hostile pickles ------------------------------------------------------------------

def os_system_pickle():
    """{'w': os.system('touch /tmp/tessera-pt-pwned')} -- what a trojan checkpoint looks like."""
    return (b"\x80\x02"                              # PROTO 2
            b"}q\x00"                                # EMPTY_DICT, BINPUT 0
            b"X\x01\x00\x00\x00w"                    # BINUNICODE 'w'
            b"cos\nsystem\n"                         # GLOBAL 'os system'
            b"X\x1b\x00\x00\x00touch /tmp/tessera-pt-pwned"
            b"\x85"                                  # TUPLE1
            b"R"                                     # REDUCE  (would call os.system)
            b"s"                                     # SETITEM
            b".")                                    # STOP


def builtins_eval_pickle():
    """Protocol 4 flavour: STACK_GLOBAL builtins.eval."""
    return (b"\x80\x04"                              # PROTO 4
            b"}\x94"                                 # EMPTY_DICT, MEMOIZE
            b"\x8c\x01w"                             # SHORT_BINUNICODE 'w'
            b"\x8c\x08builtins\x94\x8c\x04eval\x94"  # 'builtins', 'eval'
            b"\x93\x94"                              # STACK_GLOBAL, MEMOIZE
            b"\x8c\x0a__import__\x85R"               # eval(('__import__',))
            b"s.")


def main():
    for name, (pkl, storages) in {
        "state_dict.pt": state_dict_fixture(2),
        "state_dict_proto4.pt": state_dict_fixture(4),
        "wrapped.pt": wrapped_fixture(),
        "unsupported_dtype.pt": unsupported_dtype_fixture(),
        "out_of_bounds.pt": out_of_bounds_fixture(),
    }.items():
        write_zip(os.path.join(HERE, name), pkl, storages)

    pkl, storages = state_dict_fixture(2)
    write_zip(os.path.join(HERE, "missing_record.pt"), pkl, storages, drop_keys=("1",))
    write_zip(os.path.join(HERE, "os_system.pt"), os_system_pickle(), [])
    write_zip(os.path.join(HERE, "builtins_eval.pt"), builtins_eval_pickle(), [])
    write_zip(os.path.join(HERE, "corrupt_pickle.pt"), pkl[: len(pkl) // 2], storages)  # no STOP

    with open(os.path.join(HERE, "state_dict.pt"), "rb") as f:
        whole = f.read()
    with open(os.path.join(HERE, "truncated.pt"), "wb") as f:
        f.write(whole[: len(whole) // 2])  # the central directory at the end is gone

    # sanity: the hostile pickles really do reference the globals the tests expect refused
    for blob, ref in ((os_system_pickle(), "os system"), (builtins_eval_pickle(), "builtins eval")):
        names = [a for op, a, _ in __import__("pickletools").genops(blob) if op.name == "GLOBAL"]
        assert names in ([ref], []), names


if __name__ == "__main__":
    main()
