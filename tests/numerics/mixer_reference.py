"""Independent PyTorch implementations of MLP-Mixer and ConvMixer (timm's parameter names) and
B-MLP (the "Scaling MLPs" architecture, with the names of specs/README.md), plus the small
pieces the numerics tests share: a safetensors writer/reader written from the format's spec, and a
ctypes binding of a mixerc-generated library. Runs on Debian's python3-torch (CPU)."""
import ctypes
import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None


class MlpBlock(nn.Module):
    def __init__(self, width, hidden, gelu):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)
        self.gelu = gelu

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate=self.gelu))


class MixerBlock(nn.Module):
    def __init__(self, tokens, hidden, token_mlp, channel_mlp, gelu):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden, eps=1e-6)
        self.mlp_tokens = MlpBlock(tokens, token_mlp, gelu)
        self.norm2 = nn.LayerNorm(hidden, eps=1e-6)
        self.mlp_channels = MlpBlock(hidden, channel_mlp, gelu)

    def forward(self, x):
        x = x + self.mlp_tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.mlp_channels(self.norm2(x))


class Stem(nn.Module):
    def __init__(self, channels, hidden, patch):
        super().__init__()
        self.proj = nn.Conv2d(channels, hidden, patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class MlpMixer(nn.Module):
    """timm's MlpMixer forward (stem, blocks, norm, token mean, head) with the same state_dict."""

    def __init__(self, m):
        super().__init__()
        h, w = m["image_size"] if isinstance(m["image_size"], list) else [m["image_size"]] * 2
        tokens = (h // m["patch"]) * (w // m["patch"])
        gelu = "tanh" if m.get("gelu", "erf") == "tanh" else "none"
        self.stem = Stem(m["channels"], m["hidden"], m["patch"])
        self.blocks = nn.Sequential(*[
            MixerBlock(tokens, m["hidden"], m["token_mlp"], m["channel_mlp"], gelu)
            for _ in range(m["depth"])])
        self.norm = nn.LayerNorm(m["hidden"], eps=1e-6)
        self.head = nn.Linear(m["hidden"], m["classes"])
        self.image_shape = (m["channels"], h, w)

    def forward(self, x):
        x = self.norm(self.blocks(self.stem(x)))
        return self.head(x.mean(dim=1))


class BmlpBlock(nn.Module):
    def __init__(self, width, hidden, gelu):
        super().__init__()
        self.norm = nn.LayerNorm(width)  # eps 1e-5, as the Scaling MLPs code
        self.mlp = MlpBlock(width, hidden, gelu)

    def forward(self, x):
        return x + self.mlp(self.norm(x))


class Bmlp(nn.Module):
    """B-MLP (Bachmann et al. 2023): flatten, linear embedding, pre-norm inverted bottlenecks."""

    def __init__(self, m):
        super().__init__()
        h, w = m["image_size"] if isinstance(m["image_size"], list) else [m["image_size"]] * 2
        width, gelu = m["width"], "tanh" if m.get("gelu", "erf") == "tanh" else "none"
        self.stem = nn.Linear(m["channels"] * h * w, width)
        self.blocks = nn.Sequential(*[
            BmlpBlock(width, width * m.get("expansion", 4), gelu) for _ in range(m["depth"])])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, m["classes"])
        self.image_shape = (m["channels"], h, w)

    def forward(self, x):
        return self.head(self.norm(self.blocks(self.stem(x.flatten(1)))))


class Residual(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x) + x


class ConvMixer(nn.Module):
    """ConvMixer-h/d (Trockman & Kolter) as timm's convmixer.py builds it, so the state_dict keys
    (stem.0.weight, blocks.0.0.fn.2.running_mean, ...) are timm's. NCHW, as PyTorch runs it."""

    def __init__(self, m):
        super().__init__()
        h, w = m["image_size"] if isinstance(m["image_size"], list) else [m["image_size"]] * 2
        dim, k, p = m["hidden"], m["kernel"], m["patch"]
        act = {"gelu": nn.GELU, "relu": nn.ReLU}[m.get("activation", "gelu")]
        self.stem = nn.Sequential(nn.Conv2d(m["channels"], dim, p, stride=p), act(),
                                  nn.BatchNorm2d(dim))
        self.blocks = nn.Sequential(*[nn.Sequential(
            Residual(nn.Sequential(nn.Conv2d(dim, dim, k, groups=dim, padding="same"), act(),
                                   nn.BatchNorm2d(dim))),
            nn.Conv2d(dim, dim, 1), act(), nn.BatchNorm2d(dim)) for _ in range(m["depth"])])
        self.head = nn.Linear(dim, m["classes"])
        self.image_shape = (m["channels"], h, w)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.head(x.mean(dim=(2, 3)))


def build_model(spec):
    """The reference network of a parsed spec, by family."""
    families = {"mlp_mixer": MlpMixer, "bmlp": Bmlp, "conv_mixer": ConvMixer}
    return families[spec["family"]](spec["model"])


def load_spec(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def randomise(model, seed):
    """Non-trivial weights everywhere (timm's init zeroes the head and biases), and BatchNorm
    running statistics away from 0 and 1, so every part of the normalisation is exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            fan_in = p.shape[1] * (p[0][0].numel() if p.dim() > 2 else 1) if p.dim() > 1 else 16
            scale = 1.0 / np.sqrt(fan_in)
            p.copy_(torch.randn(p.shape, generator=g) * scale)
            if "norm" in name and name.endswith(".weight"):
                p.add_(1.0)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.add_(1.0)
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=g) * 0.3)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=g) * 1.5 + 0.25)
                module.num_batches_tracked.fill_(12345)


DTYPES = {"F32": np.float32, "I64": np.int64, "F16": np.float16, "F64": np.float64}


def float_bytes(a, dtype):
    """The bytes of float array `a` as safetensors dtype F32, F16, F64 or BF16 (BF16: the top
    half of each f32, i.e. rounded toward zero)."""
    if dtype == "BF16":
        return (np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) >> 16).astype(
            "<u2").tobytes()
    return np.ascontiguousarray(a, dtype=DTYPES[dtype]).tobytes()


def widened(a, dtype):
    """What a float array written as `dtype` (float_bytes) holds, as f32."""
    if dtype == "BF16":
        return ((np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) >> 16) << 16).astype(
            np.uint32).view(np.float32)
    return np.asarray(a, dtype=DTYPES[dtype]).astype(np.float32)


def write_safetensors(path, tensors, float_dtype="F32"):
    """tensors: dict name -> numpy array (int64 stays I64, the rest is written as float_dtype);
    written per the safetensors format spec."""
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        dtype = "I64" if a.dtype == np.int64 else float_dtype
        data = float_bytes(a, dtype) if dtype != "I64" else np.ascontiguousarray(
            a, dtype=np.int64).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(blob[8 + n + b:8 + n + end],
                                  dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
    return out


MIXER_ABI_VERSION = 3


class TrainOptions(ctypes.Structure):
    """mixer_train_options (mixer/runtime.h)."""
    _fields_ = [("abi_version", ctypes.c_uint32), ("optimizer", ctypes.c_int32),
                ("learning_rate", ctypes.c_float), ("weight_decay", ctypes.c_float),
                ("beta1", ctypes.c_float), ("beta2", ctypes.c_float), ("eps", ctypes.c_float),
                ("momentum", ctypes.c_float), ("label_smoothing", ctypes.c_float)]

    ADAMW, SGD = 0, 1

    def __init__(self, optimizer=0, lr=1e-3, weight_decay=0.01, beta1=0.9, beta2=0.999, eps=1e-8,
                 momentum=0.9, label_smoothing=0.0):
        super().__init__(MIXER_ABI_VERSION, optimizer, lr, weight_decay, beta1, beta2, eps,
                         momentum, label_smoothing)


class ModelInfo(ctypes.Structure):
    """mixer_model_info (mixer/runtime.h)."""
    _fields_ = [("abi_version", ctypes.c_int32), ("name", ctypes.c_char_p),
                ("family", ctypes.c_char_p), ("channels", ctypes.c_int64),
                ("height", ctypes.c_int64), ("width", ctypes.c_int64), ("classes", ctypes.c_int64),
                ("num_parameters", ctypes.c_int64), ("flops_per_image", ctypes.c_double),
                ("plan_hash", ctypes.c_uint64)]


class Library:
    """ctypes binding of lib<name>.so's C API."""

    def __init__(self, path, name):
        self.lib = ctypes.CDLL(path)
        self.name = name
        p = ctypes.c_void_p
        self.fn("create", [p, ctypes.POINTER(p)])
        self.fn("load_weights", [p, ctypes.c_char_p])
        self.fn("save_weights", [p, ctypes.c_char_p])
        self.fn("infer", [p, p, ctypes.c_int64, p])
        getattr(self.lib, name + "_destroy").argtypes = [p]
        self.lib.mixer_last_error.restype = ctypes.c_char_p

    def fn(self, verb, argtypes):
        f = getattr(self.lib, f"{self.name}_{verb}")
        f.argtypes = argtypes
        f.restype = ctypes.c_int

    def call(self, verb, *args):
        return getattr(self.lib, f"{self.name}_{verb}")(*args)

    def error(self):
        return self.lib.mixer_last_error().decode()

    def info(self):
        f = getattr(self.lib, f"{self.name}_info")
        f.restype = ctypes.POINTER(ModelInfo)
        return f().contents

    def create(self):
        handle = ctypes.c_void_p()
        status = self.call("create", None, ctypes.byref(handle))
        assert status == 0, self.error()
        return handle

    def destroy(self, handle):
        getattr(self.lib, self.name + "_destroy")(handle)

    def train_step(self, handle, images, labels, options):
        """One NAME_train_step; returns the batch's mean loss before the update."""
        f = getattr(self.lib, self.name + "_train_step")
        p = ctypes.c_void_p
        f.argtypes = [p, p, p, ctypes.c_int64, ctypes.POINTER(TrainOptions),
                      ctypes.POINTER(ctypes.c_float)]
        f.restype = ctypes.c_int
        images = np.ascontiguousarray(images, dtype=np.float32)
        labels = np.ascontiguousarray(labels, dtype=np.int32)
        loss = ctypes.c_float()
        status = f(handle, images.ctypes.data, labels.ctypes.data, images.shape[0],
                   ctypes.byref(options), ctypes.byref(loss))
        assert status == 0, self.error()
        return loss.value

    def compute_gradients(self, handle, images, labels, options):
        """NAME_compute_gradients; returns the batch's mean loss."""
        p = ctypes.c_void_p
        self.fn("compute_gradients", [p, p, p, ctypes.c_int64, ctypes.POINTER(TrainOptions),
                                      ctypes.POINTER(ctypes.c_float)])
        images = np.ascontiguousarray(images, dtype=np.float32)
        labels = np.ascontiguousarray(labels, dtype=np.int32)
        loss = ctypes.c_float()
        status = self.call("compute_gradients", handle, images.ctypes.data, labels.ctypes.data,
                           images.shape[0], ctypes.byref(options), ctypes.byref(loss))
        assert status == 0, self.error()
        return loss.value

    def apply_gradients(self, handle, options):
        self.fn("apply_gradients", [ctypes.c_void_p, ctypes.POINTER(TrainOptions)])
        status = self.call("apply_gradients", handle, ctypes.byref(options))
        assert status == 0, self.error()

    def arena(self, handle, verb):
        """The model's gradients or running_stats as a writable NumPy view (no copy)."""
        data, count = ctypes.POINTER(ctypes.c_float)(), ctypes.c_int64()
        self.fn(verb, [ctypes.c_void_p, ctypes.POINTER(ctypes.POINTER(ctypes.c_float)),
                       ctypes.POINTER(ctypes.c_int64)])
        status = self.call(verb, handle, ctypes.byref(data), ctypes.byref(count))
        assert status == 0, self.error()
        if count.value == 0:
            return np.zeros(0, dtype=np.float32)
        return np.ctypeslib.as_array(data, shape=(count.value,))

    def weights(self, handle, path):
        """The model's tensors, through save_weights."""
        assert self.call("save_weights", handle, path.encode()) == 0, self.error()
        return read_safetensors(path)

    def infer(self, handle, images, classes):
        images = np.ascontiguousarray(images, dtype=np.float32)
        logits = np.zeros((images.shape[0], classes), dtype=np.float32)
        status = self.call("infer", handle, images.ctypes.data, images.shape[0], logits.ctypes.data)
        assert status == 0, self.error()
        return logits
