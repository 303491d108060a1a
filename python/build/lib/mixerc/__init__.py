"""Python binding of mixerc-generated libraries: a model from `mixerc compile`, called on NumPy
arrays without copies.

Arrays are passed to the library by pointer: images must be float32 and C-contiguous (N x C x H
x W), labels int32; anything else raises TypeError rather than being copied silently. Every
failure of the C API raises MixerError carrying the status and the library's message
(mixer_last_error). A Model is not thread-safe; distinct Models may run on distinct threads.
"""
import ctypes
import os

import numpy as np

__all__ = ["Model", "MixerError", "ABI_VERSION"]

ABI_VERSION = 3  # MIXER_ABI_VERSION of mixer/runtime.h this binding speaks

STATUS_NAMES = {1: "invalid argument", 2: "I/O", 3: "format", 4: "shape", 5: "out of memory",
                6: "device", 7: "unsupported", 8: "internal"}
OPTIMIZERS = {"adamw": 0, "sgd": 1}


class MixerError(RuntimeError):
    """A failed call: `status` is the mixer_status, str() the library's message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.kind = STATUS_NAMES.get(status, "unknown")


class _Info(ctypes.Structure):
    _fields_ = [("abi_version", ctypes.c_int32), ("name", ctypes.c_char_p),
                ("family", ctypes.c_char_p), ("channels", ctypes.c_int64),
                ("height", ctypes.c_int64), ("width", ctypes.c_int64), ("classes", ctypes.c_int64),
                ("num_parameters", ctypes.c_int64), ("flops_per_image", ctypes.c_double),
                ("plan_hash", ctypes.c_uint64)]


class _Options(ctypes.Structure):
    _fields_ = [("abi_version", ctypes.c_uint32), ("seed", ctypes.c_uint64),
                ("num_threads", ctypes.c_int32), ("device", ctypes.c_int32)]


class _TrainOptions(ctypes.Structure):
    _fields_ = [("abi_version", ctypes.c_uint32), ("optimizer", ctypes.c_int32),
                ("learning_rate", ctypes.c_float), ("weight_decay", ctypes.c_float),
                ("beta1", ctypes.c_float), ("beta2", ctypes.c_float), ("eps", ctypes.c_float),
                ("momentum", ctypes.c_float), ("label_smoothing", ctypes.c_float)]


_P = ctypes.c_void_p
_FLOATS = ctypes.POINTER(ctypes.POINTER(ctypes.c_float))
_SIGNATURES = {
    "info": ([], ctypes.POINTER(_Info)),
    "create": ([ctypes.POINTER(_Options), ctypes.POINTER(_P)], ctypes.c_int),
    "destroy": ([_P], None),
    "load_weights": ([_P, ctypes.c_char_p], ctypes.c_int),
    "save_weights": ([_P, ctypes.c_char_p], ctypes.c_int),
    "infer": ([_P, _P, ctypes.c_int64, _P], ctypes.c_int),
    "train_step": ([_P, _P, _P, ctypes.c_int64, ctypes.POINTER(_TrainOptions),
                    ctypes.POINTER(ctypes.c_float)], ctypes.c_int),
    "compute_gradients": ([_P, _P, _P, ctypes.c_int64, ctypes.POINTER(_TrainOptions),
                           ctypes.POINTER(ctypes.c_float)], ctypes.c_int),
    "apply_gradients": ([_P, ctypes.POINTER(_TrainOptions)], ctypes.c_int),
    "gradients": ([_P, _FLOATS, ctypes.POINTER(ctypes.c_int64)], ctypes.c_int),
    "running_stats": ([_P, _FLOATS, ctypes.POINTER(ctypes.c_int64)], ctypes.c_int),
}
_TRAINING = ("train_step", "compute_gradients", "apply_gradients", "gradients", "running_stats")


def _array(value, dtype, name, shape=None):
    """`value` itself when it already is a C-contiguous array of `dtype` (and `shape`)."""
    if not isinstance(value, np.ndarray) or value.dtype != dtype or \
            not value.flags["C_CONTIGUOUS"]:
        got = (f"a {'' if value.flags['C_CONTIGUOUS'] else 'non-contiguous '}array of "
               f"{value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__)
        raise TypeError(f"{name} must be a C-contiguous numpy.ndarray of {np.dtype(dtype)}, "
                        f"got {got} (arrays are passed without copies: convert it with "
                        f"numpy.ascontiguousarray(x, dtype=numpy.{np.dtype(dtype)}))")
    if shape is not None and tuple(value.shape[1:]) != tuple(shape):
        raise ValueError(f"{name} has shape {value.shape}, expected (N, "
                         f"{', '.join(map(str, shape))})")
    return value


class Model:
    """A model of a generated library `lib<name>.so`, with weights initialised from `seed` as
    the library's NAME_create does. `threads`: worker threads (0: all cores)."""

    def __init__(self, library, seed=0, threads=0):
        base = os.path.basename(library)
        if not (base.startswith("lib") and base.endswith(".so")):
            raise ValueError(f"{library}: expected a library named lib<name>.so")
        self.name = base[3:-3]
        self._lib = ctypes.CDLL(os.path.abspath(library))
        self._lib.mixer_last_error.restype = ctypes.c_char_p
        self._fns = {}
        for verb, (argtypes, restype) in _SIGNATURES.items():
            fn = getattr(self._lib, f"{self.name}_{verb}", None)
            if fn is None:
                if verb in _TRAINING:
                    continue
                raise ValueError(f"{library} is not a mixerc library for model '{self.name}' "
                                 f"(no {self.name}_{verb})")
            fn.argtypes, fn.restype = argtypes, restype
            self._fns[verb] = fn
        info = self._fns["info"]().contents
        if info.abi_version != ABI_VERSION:
            raise MixerError(7, f"{library} has mixer ABI {info.abi_version}, this binding "
                                f"speaks {ABI_VERSION}")
        self.family = info.family.decode()
        self.image_shape = (info.channels, info.height, info.width)
        self.classes = info.classes
        self.num_parameters = info.num_parameters
        self.flops_per_image = info.flops_per_image
        self.plan_hash = info.plan_hash
        self.training = "train_step" in self._fns
        handle = _P()
        self._call("create", ctypes.byref(_Options(ABI_VERSION, seed, threads, 0)),
                   ctypes.byref(handle))
        self._handle = handle

    def _call(self, verb, *args):
        if verb not in self._fns:
            raise MixerError(7, f"{self.name}: the library was compiled without training = "
                                f"true (no {self.name}_{verb})")
        status = self._fns[verb](*args)
        if status != 0:
            raise MixerError(status, self._lib.mixer_last_error().decode())

    def close(self):
        """Releases the model; further calls raise."""
        if getattr(self, "_handle", None):
            self._fns["destroy"](self._handle)
            self._handle = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _live(self):
        if not self._handle:
            raise MixerError(1, f"{self.name}: the model was closed")
        return self._handle

    def load_weights(self, path):
        """Replaces the weights from a safetensors file (timm's names)."""
        self._call("load_weights", self._live(), os.fsencode(path))

    def save_weights(self, path):
        """Writes the weights (and optimizer state) atomically."""
        self._call("save_weights", self._live(), os.fsencode(path))

    def infer(self, images, out=None):
        """Logits (N x classes float32) of float32 images N x C x H x W, written into `out` if
        given (a C-contiguous float32 array of that shape), else into a new array."""
        images = _array(images, np.float32, "images", self.image_shape)
        if out is None:
            out = np.empty((images.shape[0], self.classes), np.float32)
        elif _array(out, np.float32, "out").shape != (images.shape[0], self.classes):
            raise ValueError(f"out has shape {out.shape}, expected "
                             f"{(images.shape[0], self.classes)}")
        self._call("infer", self._live(), images.ctypes.data, images.shape[0], out.ctypes.data)
        return out

    @staticmethod
    def _options(optimizer, learning_rate, weight_decay, betas, eps, momentum, label_smoothing):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        return _TrainOptions(ABI_VERSION, OPTIMIZERS[optimizer], learning_rate, weight_decay,
                             betas[0], betas[1], eps, momentum, label_smoothing)

    def _batch(self, images, labels):
        images = _array(images, np.float32, "images", self.image_shape)
        labels = _array(labels, np.int32, "labels")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels has shape {labels.shape}, expected ({images.shape[0]},)")
        return images, labels

    def train_step(self, images, labels, learning_rate=1e-3, optimizer="adamw",
                   weight_decay=0.01, betas=(0.9, 0.999), eps=1e-8, momentum=0.9,
                   label_smoothing=0.0):
        """One training step (forward, loss, backward, update); returns the batch's mean loss."""
        images, labels = self._batch(images, labels)
        options = self._options(optimizer, learning_rate, weight_decay, betas, eps, momentum,
                                label_smoothing)
        loss = ctypes.c_float()
        self._call("train_step", self._live(), images.ctypes.data, labels.ctypes.data,
                   images.shape[0], ctypes.byref(options), ctypes.byref(loss))
        return loss.value

    def compute_gradients(self, images, labels, label_smoothing=0.0):
        """train_step's first half: the gradients of the batch's mean loss (see gradients())."""
        images, labels = self._batch(images, labels)
        options = self._options("adamw", 0.0, 0.0, (0.9, 0.999), 1e-8, 0.9, label_smoothing)
        loss = ctypes.c_float()
        self._call("compute_gradients", self._live(), images.ctypes.data, labels.ctypes.data,
                   images.shape[0], ctypes.byref(options), ctypes.byref(loss))
        return loss.value

    def apply_gradients(self, learning_rate=1e-3, optimizer="adamw", weight_decay=0.01,
                        betas=(0.9, 0.999), eps=1e-8, momentum=0.9):
        """train_step's second half: one update from the (possibly rewritten) gradients."""
        options = self._options(optimizer, learning_rate, weight_decay, betas, eps, momentum,
                                0.0)
        self._call("apply_gradients", self._live(), ctypes.byref(options))

    def _view(self, verb):
        data, count = ctypes.POINTER(ctypes.c_float)(), ctypes.c_int64()
        self._call(verb, self._live(), ctypes.byref(data), ctypes.byref(count))
        if count.value == 0:
            return np.zeros(0, np.float32)
        return np.ctypeslib.as_array(data, shape=(count.value,))

    def gradients(self):
        """The gradient arena as a writable float32 view into the model (no copy), valid until
        close(): rewrite it between compute_gradients and apply_gradients (an all-reduce)."""
        return self._view("gradients")

    def running_stats(self):
        """BatchNorm's running means and variances as a writable view (empty without BN)."""
        return self._view("running_stats")
