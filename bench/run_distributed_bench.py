#!/usr/bin/python3
"""Data-parallel training on one machine: N MPI ranks x T/N threads against 1 process x T threads.

For each spec (compiled with training = true) and global batch: `mixerc bench --train` in one
process with all the threads, and `mpirun -np N mixerc bench --train` with one thread per rank
(each rank its share of the batch, gradients and running statistics all-reduced between
NAME_compute_gradients and NAME_apply_gradients). The two take turns for --rounds rounds; each
keeps its best round. Prints and writes (CSV) ms per step, the ratio of the two and the share of
the distributed step spent in the all-reduce (which includes waiting for the slowest rank), plus
the bytes all-reduced per step.
Usage: run_distributed_bench.py [--models mixer_fmnist:128 mixer_s16:8] [--ranks 2] [--rounds 3]
Needs: tools/build.sh run first (Open MPI comes with tools/install-deps.sh)."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from run_bench import field, run, write_csv  # noqa: E402
from run_train_bench import BUILD, OUT, ROOT, training_spec  # noqa: E402

MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", nargs="+", default=["mixer_fmnist:128", "mixer_s16:8"])
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="threads of the single process")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results_distributed.csv"))
    args = p.parse_args()
    mixerc = f"{BUILD}/compiler/mixerc"
    cpu = run(["sh", "-c", "grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2; "
               "grep -m1 '^model' /proc/cpuinfo | cut -d: -f2"]).split("\n")
    host = f"AMD EPYC family {cpu[0].strip()} model {cpu[1].strip()}, {os.cpu_count()} cores"
    rows = []
    for item in args.models:
        name, batch = item.split(":")
        lib_dir = os.path.join(OUT, f"{name}_train")
        run([mixerc, "compile", training_spec(name), "-o", lib_dir])
        lib = f"{lib_dir}/lib{name}.so"
        common = ["bench", lib, "--train", "--batch", batch, "--seconds", str(int(args.seconds))]
        single, multi = {}, {}
        for _ in range(args.rounds):
            out = run([mixerc, *common, "--threads", str(args.threads)])
            if not single or field(out, "median_ms") < single["median_ms"]:
                single = {"median_ms": field(out, "median_ms")}
            out = run(["mpirun", "--oversubscribe", "-np", str(args.ranks), mixerc, *common,
                       "--threads", str(max(1, args.threads // args.ranks))], env=MPI_ENV)
            if not multi or field(out, "median_ms") < multi["median_ms"]:
                multi = {k: field(out, k) for k in ("median_ms", "allreduce_ms",
                                                    "allreduce_share")}
        info = run(["/usr/bin/python3", "-c",
                    "import ctypes,sys; sys.path.insert(0, sys.argv[1]); "
                    "from mixer_reference import Library; "
                    "print(Library(sys.argv[2], sys.argv[3]).info().num_parameters)",
                    os.path.join(ROOT, "tests", "numerics"), lib, name])
        megabytes = int(info) * 4 / 1e6
        ratio = multi["median_ms"] / single["median_ms"]
        rows.append({"model": name, "global_batch": batch, "ranks": args.ranks,
                     "single_process_threads": args.threads,
                     "single_ms_per_step": f"{single['median_ms']:.2f}",
                     "distributed_ms_per_step": f"{multi['median_ms']:.2f}",
                     "distributed_over_single": f"{ratio:.3f}",
                     "allreduce_ms": f"{multi['allreduce_ms']:.2f}",
                     "allreduce_share": f"{multi['allreduce_share']:.3f}",
                     "allreduce_mb_per_step": f"{megabytes:.1f}", "host": host})
        print(f"{name} batch {batch}: 1 x {args.threads} threads {single['median_ms']:.1f} ms, "
              f"{args.ranks} ranks {multi['median_ms']:.1f} ms ({ratio:.3f}x), all-reduce "
              f"{multi['allreduce_ms']:.1f} ms ({multi['allreduce_share']:.1%}) of "
              f"{megabytes:.1f} MB", flush=True)
    write_csv(args.out, rows)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
