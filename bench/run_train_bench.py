#!/usr/bin/python3
"""The training benchmark: a mixerc train step against PyTorch's, every figure taken in one run.

For each spec (compiled with training = true; specs without it get a copy that has it) and batch:
the mixerc train step (`mixerc bench --train`: forward, loss, backward, AdamW update), the mixerc
forward pass at the same batch (`mixerc bench`), and PyTorch's training step (peers.py --train:
zero_grad, forward, cross-entropy, backward, AdamW foreach) run the way it runs best: Debian's
PyTorch 1.13 in its tuned environment (OpenMP OpenBLAS, jemalloc; PERFORMANCE.md) and PyTorch 2.x
eager from the bench virtual environment. Runners take turns for --rounds rounds; each keeps its
best round. Prints and writes (CSV) images/s, ms per step, mixerc's speed-up over the best peer
and the train-step / forward ratio. Next to them, the practical roofline (gemm_roofline.cpp):
oneDNN's sgemm on the step's own GEMMs, forward and backward (dX and dW products), with the
depthwise convolutions charged at the FMA peak: the step as if every GEMM ran at oneDNN's speed
and nothing else cost time, which bounds both the speed-up over a peer and train / forward; and
the FMA-peak floor, the same FLOPs at the measured f32 FMA peak (fma_peak.c), which no
implementation beats.
Usage: run_train_bench.py [--models mixer_fmnist:128 mixer_s16:8] [--seconds 10] [--rounds 2]
Needs: tools/build.sh and tools/install-deps.sh --bench run first."""
import argparse
import os
import re
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, "build")
OUT = os.path.join(BUILD, "bench")
BENCH_VENV = os.environ.get("MIXERC_BENCH_VENV", os.path.expanduser("~/.cache/mixerc/bench-venv"))
sys.path.insert(0, os.path.dirname(__file__))
from run_bench import (depthwise_flops_per_image, field, gemm_shapes, load_spec, run,  # noqa: E402
                       train_gemm_shapes, write_csv)


def training_spec(name):
    """The spec's path, or a temporary copy with training = true."""
    path = os.path.join(ROOT, "specs", f"{name}.toml")
    text = open(path).read()
    if re.search(r"^training\s*=\s*true", text, re.M):
        return path
    text = re.sub(r"^\[build\]\s*$", "[build]\ntraining = true", text, flags=re.M)
    if "training = true" not in text:
        text += "\n[build]\ntraining = true\n"
    copy = os.path.join(tempfile.mkdtemp(), f"{name}.toml")
    open(copy, "w").write(text)
    return copy


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", nargs="+", default=["mixer_fmnist:128", "mixer_s16:8"])
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results_train.csv"))
    args = p.parse_args()
    threads = str(args.threads)
    os.makedirs(OUT, exist_ok=True)
    cpu = run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2; "
               "grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2; grep -m1 '^model' /proc/cpuinfo | cut -d: -f2"]).split("\n")
    host = f"{cpu[0].strip()} (family {cpu[1].strip()} model {cpu[2].strip()})"
    debian_env = {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None,
                  "LD_LIBRARY_PATH": "/usr/lib/x86_64-linux-gnu/openblas-openmp",
                  "LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
                  "MALLOC_CONF": "dirty_decay_ms:-1,muzzy_decay_ms:-1", "OMP_NUM_THREADS": threads}
    run(["gcc", "-O2", "-o", f"{OUT}/fma_peak", f"{ROOT}/bench/fma_peak.c", "-lpthread"])
    run(["g++", "-O2", "-o", f"{OUT}/gemm_roofline", f"{ROOT}/bench/gemm_roofline.cpp", "-ldnnl"])
    rows = []
    for item in args.models:
        name, batch = item.split(":")
        spec = training_spec(name)
        lib_dir = os.path.join(OUT, f"{name}_train")
        run([f"{BUILD}/compiler/mixerc", "compile", spec, "-o", lib_dir])
        lib = f"{lib_dir}/lib{name}.so"
        results = {}

        def keep(runner, ips):
            if ips and ips > results.get(runner, 0):
                results[runner] = ips

        model = load_spec(spec)

        def roofline(shapes, depthwise_passes):
            """Images/s with the GEMMs at oneDNN's speed and the depthwise work at the FMA peak,
            and images/s with all of it at the FMA peak (the physical floor of the matrix work)."""
            peak = field(run([f"{OUT}/fma_peak", threads]), "gflops")
            roof = run([f"{OUT}/gemm_roofline", *shapes], env={"OMP_NUM_THREADS": threads})
            depthwise_flops = int(batch) * depthwise_passes * depthwise_flops_per_image(model)
            depthwise = depthwise_flops / (peak * 1e9)
            flops = sum(2 * int(m) * int(n) * int(k) * int(count)
                        for m, n, k, count, *_ in (s.split(",") for s in shapes))
            return (int(batch) / (field(roof, "ms") * 1e-3 + depthwise),
                    int(batch) / (flops / (peak * 1e9) + depthwise))

        for _ in range(args.rounds):
            # Forward: one pass over the depthwise work; training: forward, dX and dW.
            onednn, floor = roofline(train_gemm_shapes(model, int(batch)), 3)
            keep("oneDNN roofline train step", onednn)
            keep("FMA-peak floor train step", floor)
            keep("oneDNN roofline forward", roofline(gemm_shapes(model, int(batch)), 1)[0])
            common = ["--batch", batch, "--threads", threads, "--seconds", str(int(args.seconds))]
            keep("mixerc train step", field(run([f"{BUILD}/compiler/mixerc", "bench", lib, "--train",
                                                 *common]), "images_per_s"))
            keep("mixerc forward", field(run([f"{BUILD}/compiler/mixerc", "bench", lib, *common]),
                                         "images_per_s"))
            for peer, python, env in [("debian-torch train step", "/usr/bin/python3", debian_env),
                                      ("torch train step", f"{BENCH_VENV}/bin/python",
                                       {"OMP_NUM_THREADS": threads})]:
                try:
                    out = run([python, f"{ROOT}/bench/peers.py", "torch", spec, "--train",
                               "--batch", batch, "--threads", threads,
                               "--seconds", str(args.seconds)], env=env)
                    keep(peer, field(out, "images_per_s"))
                except Exception as e:  # a failed peer is reported, not hidden
                    print(f"warning: {peer} failed on {name}: {e}", file=sys.stderr)
        peers = {k: v for k, v in results.items() if "torch" in k}
        best = max(peers, key=peers.get) if peers else None
        mixerc = results["mixerc train step"]
        roof_train = results["oneDNN roofline train step"]
        roof_forward = results["oneDNN roofline forward"]
        for runner, ips in results.items():
            is_step = runner.endswith("train step")
            rows.append({"model": name, "batch": batch, "runner": runner,
                         "images_per_s": f"{ips:.2f}", "ms_per_step": f"{int(batch) / ips * 1e3:.1f}",
                         "mixerc_train_speedup": f"{mixerc / ips:.3f}" if is_step else "",
                         "train_over_forward": f"{results['mixerc forward'] / mixerc:.2f}",
                         "roofline_train_over_forward": f"{roof_forward / roof_train:.2f}",
                         "roofline_train_over_mixerc_forward":
                             f"{results['mixerc forward'] / roof_train:.2f}",
                         "best_peer": best or "", "host": host})
        print(f"{name} batch {batch}: " + " | ".join(f"{k} {v:.1f}" for k, v in results.items()) +
              f" img/s; mixerc / best peer ({best}) = {mixerc / peers[best]:.3f}; "
              f"train step / forward = {results['mixerc forward'] / mixerc:.2f}; at the roofline: "
              f"{roof_train / peers[best]:.3f} over {best}, train / forward "
              f"{roof_forward / roof_train:.2f} (against mixerc's forward "
              f"{results['mixerc forward'] / roof_train:.2f}), mixerc's step at "
              f"{mixerc / roof_train:.2f} of it")
    write_csv(args.out, rows)
    print("\n| model | batch | runner | images/s | ms/step | mixerc train speed-up |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['batch']} | {r['runner']} | {r['images_per_s']} | "
              f"{r['ms_per_step']} | {r['mixerc_train_speedup']} |")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
