#!/usr/bin/python3
"""The benchmark: mixerc against its peers on Mixer specs, every figure taken in one run.

Measures, on this machine and in this order: the f32 FMA peak (fma_peak.c), oneDNN's sgemm on each
model's own GEMM shapes (gemm_roofline.cpp: the practical roofline), the mixerc library
(`mixerc bench`), and each peer run the way it runs best (peers.py): Debian's PyTorch 1.13 in its
tuned environment (OpenMP OpenBLAS, jemalloc, no OPENBLAS_CORETYPE), PyTorch 2.x eager and
torch.compile, ONNX Runtime and OpenVINO from the bench virtual environment. Everything runs with
the same thread count (2) in f32. The host is a shared VM whose speed drifts by several per cent
over minutes, so the runners take turns: each round runs every runner once (a median over
--seconds), and each runner's best round is kept; the FMA peak is re-measured every round, and
its best reading is the one every fraction is taken of. Writes a CSV and prints a table of images/s,
GFLOP/s and ratios.

Usage: run_bench.py [--models mixer_s16 mixer_b16] [--batches 1 32] [--seconds 10] [--rounds 2]
                    [--out FILE]
Needs: tools/build.sh and tools/install-deps.sh --bench run first."""
import argparse
import csv
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, "build")
OUT = os.path.join(BUILD, "bench")
BENCH_VENV = os.environ.get("MIXERC_BENCH_VENV", os.path.expanduser("~/.cache/mixerc/bench-venv"))
sys.path.insert(0, os.path.join(ROOT, "tests", "numerics"))
from mixer_reference import load_spec  # noqa: E402


def run(cmd, env=None, timeout=1800):
    full_env = dict(os.environ, **(env or {}))
    for k in [k for k, v in (env or {}).items() if v is None]:
        full_env.pop(k, None)
    result = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr[-2000:]}")
    return result.stdout


def field(text, name):
    match = re.findall(rf"{name}=([0-9.]+)", text)
    return float(match[-1]) if match else None


def image_hw(m):
    return m["image_size"] if isinstance(m["image_size"], list) else [m["image_size"]] * 2


def gemm_shapes(spec, batch):
    """The model's GEMMs as mixerc runs them: M,N,K,count[,t] (t: weights stored [N][K])."""
    m = spec["model"]
    h, w = image_hw(m)
    if spec["family"] == "conv_mixer":  # the stem, the pointwise convolutions, the head
        s, c = (h // m["patch"]) * (w // m["patch"]), m["hidden"]
        return [f"{batch * s},{c},{m['channels'] * m['patch'] ** 2},1,t",
                f"{batch * s},{c},{c},{m['depth']},t", f"{batch},{m['classes']},{c},1,t"]
    if spec["family"] == "bmlp":
        width, hidden = m["width"], m["width"] * m.get("expansion", 4)
        return [f"{batch},{width},{m['channels'] * h * w},1,t",
                f"{batch},{hidden},{width},{m['depth']},t", f"{batch},{width},{hidden},{m['depth']},t",
                f"{batch},{m['classes']},{width},1,t"]
    s = (h // m["patch"]) * (w // m["patch"])
    c, ds, dc, d = m["hidden"], m["token_mlp"], m["channel_mlp"], m["depth"]
    return [f"{batch * s},{c},{m['channels'] * m['patch'] ** 2},1,t",
            f"{ds},{c},{s},{batch * d}", f"{s},{c},{ds},{batch * d}",
            f"{batch * s},{dc},{c},{d},t", f"{batch * s},{c},{dc},{d},t",
            f"{batch},{m['classes']},{c},1,t"]


def train_gemm_shapes(spec, batch):
    """The GEMMs of a training step: the forward ones and, for each, the backward pass's products.
    A weight stored [N][K] (layout t: activations x W^T) gives dX = dY W (M,K,N) and
    dW = dY^T X (N,K,M, layout a); a token-mixing weight applied from the left (layout n,
    Y = W X) gives dX = W^T dY (K,N,M, layout a) and dW = dY X^T (M,K,N, layout t). The stem's
    input is the image, which needs no gradient."""
    shapes = []
    for i, text in enumerate(gemm_shapes(spec, batch)):
        m, n, k, count, *layout = text.split(",")
        shapes.append(text)
        if layout == ["t"]:
            if i > 0:
                shapes.append(f"{m},{k},{n},{count},n")
            shapes.append(f"{n},{k},{m},{count},a")
        else:
            shapes.append(f"{k},{n},{m},{count},a")
            shapes.append(f"{m},{k},{n},{count},t")
    return shapes


def depthwise_flops_per_image(spec):
    """ConvMixer's depthwise convolutions, which are not GEMMs (multiply-adds counted as 2)."""
    if spec["family"] != "conv_mixer":
        return 0
    m = spec["model"]
    h, w = image_hw(m)
    s = (h // m["patch"]) * (w // m["patch"])
    return 2 * s * m["hidden"] * m["kernel"] ** 2 * m["depth"]


def flops_per_image(spec):
    """Multiply-adds counted as 2: the GEMMs of one image, and the depthwise convolutions."""
    shapes = [tuple(int(v) for v in s.split(",")[:4]) for s in gemm_shapes(spec, 1)]
    return sum(2 * m * n * k * count for m, n, k, count in shapes) + depthwise_flops_per_image(spec)


def write_csv(path, rows):
    """Rows (dicts with the same keys) as a CSV file with a header."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", nargs="+", default=["mixer_s16", "mixer_b16"])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--peers", nargs="+",
                   default=["debian-torch", "torch", "torch-compile", "onnxruntime", "openvino"])
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results.csv"))
    p.add_argument("--profile", action="store_true",
                   help="also print mixerc's per-kernel profile (bench --profile) for each row")
    args = p.parse_args()
    os.makedirs(OUT, exist_ok=True)
    threads = str(args.threads)

    run(["gcc", "-O2", "-o", f"{OUT}/fma_peak", f"{ROOT}/bench/fma_peak.c", "-lpthread"])
    run(["g++", "-O2", "-o", f"{OUT}/gemm_roofline", f"{ROOT}/bench/gemm_roofline.cpp", "-ldnnl"])
    cpu = run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2; "
               "grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2; grep -m1 '^model' /proc/cpuinfo | cut -d: -f2"]).split("\n")
    peak_text = run([f"{OUT}/fma_peak", threads])
    peak = field(peak_text, "gflops")
    host = f"{cpu[0].strip()} (family {cpu[1].strip()} model {cpu[2].strip()}), {peak_text.split()[0]}"
    print(f"host: {host}; f32 FMA peak with {threads} threads: {peak:.1f} GFLOP/s")

    debian_env = {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None,
                  "LD_LIBRARY_PATH": "/usr/lib/x86_64-linux-gnu/openblas-openmp",
                  "LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
                  "MALLOC_CONF": "dirty_decay_ms:-1,muzzy_decay_ms:-1", "OMP_NUM_THREADS": threads}
    rows = []
    for name in args.models:
        spec_path = os.path.join(ROOT, "specs", f"{name}.toml")
        spec = load_spec(spec_path)
        flops = flops_per_image(spec)
        lib_dir = os.path.join(OUT, name)
        run([f"{BUILD}/compiler/mixerc", "compile", spec_path, "-o", lib_dir])
        for batch in args.batches:
            results = {}

            def keep(runner, ips):
                if ips and ips > results.get(runner, 0):
                    results[runner] = ips

            for _ in range(args.rounds):
                # The peak is re-measured every round and the best kept: a single reading taken
                # while a neighbour loads the VM understates it (159 against 227 GFLOP/s once).
                peak = max(peak, field(run([f"{OUT}/fma_peak", threads]), "gflops"))
                roof = run([f"{OUT}/gemm_roofline", *gemm_shapes(spec, batch)],
                           env={"OMP_NUM_THREADS": threads})
                # The roofline is the GEMMs at oneDNN's speed; ConvMixer's depthwise convolutions
                # (not GEMMs) are charged at the FMA peak, a bound no runner reaches.
                seconds = field(roof, "ms") * 1e-3 + batch * depthwise_flops_per_image(spec) / (peak * 1e9)
                keep("oneDNN sgemm roofline", batch / seconds)
                out = run([f"{BUILD}/compiler/mixerc", "bench", f"{lib_dir}/lib{name}.so",
                           "--batch", str(batch), "--threads", threads,
                           "--seconds", str(int(args.seconds))] + (["--profile"] if args.profile else []))
                keep("mixerc", field(out, "images_per_s"))
                if args.profile:
                    print(out.strip())
                # PyTorch runs convolutions in both memory formats; the faster one counts.
                formats = ["contiguous", "channels_last"] if spec["family"] == "conv_mixer" else ["contiguous"]
                for peer in args.peers:
                    for memory_format in formats if "torch" in peer else ["contiguous"]:
                        try:
                            python, env, runner = f"{BENCH_VENV}/bin/python", {"OMP_NUM_THREADS": threads}, peer
                            if peer == "debian-torch":
                                python, env, runner = "/usr/bin/python3", debian_env, "torch"
                            out = run([python, f"{ROOT}/bench/peers.py", runner, spec_path,
                                       "--batch", str(batch), "--threads", threads,
                                       "--seconds", str(args.seconds),
                                       "--memory-format", memory_format], env=env)
                            keep(peer, field(out, "images_per_s"))
                        except Exception as e:  # a failed peer is reported, not hidden
                            print(f"warning: peer {peer} failed on {name} batch {batch}: {e}",
                                  file=sys.stderr)
            peers = {k: v for k, v in results.items() if k in args.peers and v}
            best_peer = max(peers, key=peers.get) if peers else None
            for runner, ips in results.items():
                gflops = ips * flops * 1e-9
                rows.append({
                    "model": name, "batch": batch, "runner": runner, "images_per_s": f"{ips:.3f}",
                    "gflops": f"{gflops:.1f}", "fraction_of_fma_peak": gflops,  # divided below
                    "fraction_of_onednn_roofline": f"{ips / results['oneDNN sgemm roofline']:.3f}",
                    "mixerc_speedup": f"{results['mixerc'] / ips:.3f}",
                    "best_peer": best_peer or "", "host": host, "fma_peak_gflops": None})
            print(f"f32 FMA peak (best so far): {peak:.1f} GFLOP/s")
            line = " | ".join(f"{k} {v:.2f}" for k, v in results.items())
            print(f"{name} batch {batch}: {line} img/s; mixerc/best peer ({best_peer}) = "
                  f"{results['mixerc'] / peers[best_peer]:.3f}" if best_peer else line)
    for r in rows:  # every fraction is of the best peak reading of the whole run
        r["fraction_of_fma_peak"] = f"{r['fraction_of_fma_peak'] / peak:.3f}"
        r["fma_peak_gflops"] = f"{peak:.1f}"
    write_csv(args.out, rows)
    print(f"\n| model | batch | runner | images/s | GFLOP/s | of FMA peak | of oneDNN roofline | mixerc speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['batch']} | {r['runner']} | {r['images_per_s']} | {r['gflops']} | "
              f"{r['fraction_of_fma_peak']} | {r['fraction_of_onednn_roofline']} | {r['mixerc_speedup']} |")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
