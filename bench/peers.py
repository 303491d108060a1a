"""Runs one peer on a spec (any family) the way it runs best and prints its throughput.

Peers: torch (eager, inference_mode), torch-compile (torch.compile, max-autotune-no-cudagraphs,
with freezing), onnxruntime (opset 17 export, all graph optimisations, intra-op threads, inter-op 1),
openvino (f32 inference precision forced: on CPUs with AVX512-BF16 it silently runs bf16 otherwise,
one stream). The model is the independent reference of tests/numerics/mixer_reference.py (timm's
MlpMixer and ConvMixer; the Scaling MLPs B-MLP). PyTorch runs ConvMixer in the memory format given
by --memory-format (the harness measures both and keeps the faster). Usage: peers.py PEER SPEC --batch B [--threads 2] [--seconds 10]
With --train (torch only) it times a whole training step instead: zero_grad, forward,
cross-entropy, backward and an AdamW step (torch.optim.AdamW, foreach, its fastest CPU path).
Prints: peer=NAME model=NAME batch=B images_per_s=X median_ms=Y version=V"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "numerics"))
from mixer_reference import build_model, load_spec, randomise  # noqa: E402


def measure(run, batch, seconds):
    for _ in range(3):
        run()
    times, start = [], time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    median = sorted(times)[len(times) // 2]
    return batch / median, median


def export_onnx(model, images, path):
    import torch
    kwargs = dict(input_names=["images"], output_names=["logits"], opset_version=17,
                  dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
    try:
        torch.onnx.export(model, (images,), path, dynamo=False, **kwargs)
    except TypeError:  # torch without the dynamo switch
        torch.onnx.export(model, (images,), path, **kwargs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("peer", choices=["torch", "torch-compile", "onnxruntime", "openvino"])
    p.add_argument("spec")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--memory-format", choices=["contiguous", "channels_last"],
                   default="contiguous")
    p.add_argument("--train", action="store_true", help="time a training step (torch only)")
    args = p.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    spec = load_spec(args.spec)
    model = build_model(spec).eval()
    randomise(model, 0)
    images = torch.randn(args.batch, *model.image_shape, generator=torch.Generator().manual_seed(0))
    version = torch.__version__
    if args.memory_format == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
        version += "+channels_last"

    if args.train:
        if args.peer != "torch":
            raise SystemExit("--train: only the torch peer trains")
        model.train()
        labels = torch.arange(args.batch) % spec["model"]["classes"]
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.0, foreach=True)
        def run():
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
    elif args.peer == "torch":
        def run():
            with torch.inference_mode():
                model(images)
    elif args.peer == "torch-compile":
        torch._inductor.config.freezing = True
        compiled = torch.compile(model, mode="max-autotune-no-cudagraphs")
        def run():
            with torch.inference_mode():
                compiled(images)
    else:
        tmp = tempfile.mkdtemp()
        path = os.path.join(tmp, "model.onnx")
        export_onnx(model, images, path)
        x = images.numpy()
        if args.peer == "onnxruntime":
            import onnxruntime as ort
            options = ort.SessionOptions()
            options.intra_op_num_threads = args.threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            version = ort.__version__
            def run():
                session.run(None, {"images": x})
        else:
            import openvino as ov
            core = ov.Core()
            compiled = core.compile_model(path, "CPU", {
                "INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": args.threads,
                "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"})
            request = compiled.create_infer_request()
            version = ov.__version__
            def run():
                request.infer({0: x})
    ips, median = measure(run, args.batch, args.seconds)
    print(f"peer={args.peer} model={spec['name']} batch={args.batch} images_per_s={ips:.3f} "
          f"median_ms={median * 1e3:.2f} version={version}")


if __name__ == "__main__":
    main()
