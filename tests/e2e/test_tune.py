"""mixerc tune end to end, on a small spec with a tiny budget (tests/specs/odd_mixer.toml).

1. tune: exits 0, records every GEMM-family kernel of the inference pass (the default among the
   records), and every candidate drawn from the record space builds and matches the default's
   output (no compile_error, crash, timeout or wrong records).
2. --resume with the same limits measures nothing new; with a larger --trials only the rest.
3. compile --tuning-db: says how many kernels use tuned records; the library passes parity
   against the PyTorch reference (1e-5 relative); posing as another CPU (MIXERC_CPU_MODEL) no
   record applies.
4. Faults (MIXERC_TUNE_FAULT): candidates that crash, hang or compute another result are recorded
   so and the tune still ends with status 0 and measures the others.
5. --show lists the records; a foreign file, a corrupt record and bad options are refused with
   status 2 and a message naming the file or option.
6. --training also tunes the training step's GEMMs.
7. A ConvMixer (CONV_SPEC): its depthwise convolutions are tuned too (their own record family),
   every drawn record matches the default, and the tuned library keeps parity with PyTorch;
   with a batch beyond the library's chunk its kernels are timed at the chunk.
Usage: test_tune.py MIXERC SPEC CONV_SPEC"""
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "numerics"))
from mixer_reference import Library, build_model, load_spec, randomise, write_safetensors  # noqa: E402


def parity_error(spec_path, out, tmp):
    """Largest logit difference, relative to the largest logit, of the library compiled into
    `out` against the PyTorch reference with the same random weights."""
    spec = load_spec(spec_path)
    model = build_model(spec).eval()
    randomise(model, seed=7)
    weights = os.path.join(tmp, f"{spec['name']}.safetensors")
    write_safetensors(weights, {k: v.numpy() for k, v in model.state_dict().items()})
    lib = Library(os.path.join(out, f"lib{spec['name']}.so"), spec["name"])
    info = lib.info()
    images = torch.randn(7, info.channels, info.height, info.width,
                         generator=torch.Generator().manual_seed(1))
    handle = lib.create()
    assert lib.call("load_weights", handle, weights.encode()) == 0, lib.error()
    got = lib.infer(handle, images.numpy(), info.classes)
    lib.destroy(handle)
    with torch.no_grad():
        want = model(images).numpy()
    return float(np.abs(got - want).max() / np.abs(want).max())


def main():
    mixerc, spec_path, conv_spec_path = map(os.path.abspath, sys.argv[1:4])
    failures = []

    def check(ok, what):
        print(f"{'PASS' if ok else 'FAIL'}: {what}", flush=True)
        if not ok:
            failures.append(what)

    def run(*args, env=None):
        r = subprocess.run([mixerc, *args], capture_output=True, text=True,
                           env={**os.environ, **(env or {})})
        return r

    def rows(db, where="1"):
        with sqlite3.connect(db) as c:
            return c.execute(f"SELECT kernel, params, status, median_ms, default_ms FROM records "
                             f"WHERE {where}").fetchall()

    quick = ["--batch", "2", "--time-budget", "5m", "--threads", "2"]
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "tune.db")
        r = run("tune", spec_path, "--db", db, "--trials", "6", *quick)
        check(r.returncode == 0, f"tune exits 0{'' if r.returncode == 0 else ': ' + r.stderr[-2000:]}")
        print(r.stdout)
        records = rows(db)
        kernels = {k for k, *_ in records}
        check(len(kernels) >= 4, f"{len(kernels)} GEMM-family kernels recorded")
        bad = [x for x in records if x[2] != "ok"]
        check(not bad, f"all {len(records)} drawn records build and match the default ({bad[:3]})")
        check(all(x[3] > 0 and x[4] > 0 for x in records), "every record has its time and its round's default")
        check("tuned kernels:" in r.stdout and "mixerc tune: [" in r.stderr,
              "progress lines on stderr, the summary table on stdout")

        r = run("tune", spec_path, "--db", db, "--trials", "6", "--resume", *quick)
        check(r.returncode == 0 and len(rows(db)) == len(records),
              f"--resume with the same limits measures nothing new ({len(rows(db))} records)")
        r = run("tune", spec_path, "--db", db, "--trials", "8", "--resume", *quick)
        added = len(rows(db)) - len(records)
        check(r.returncode == 0 and 0 < added <= 2 * len(kernels),
              f"--resume --trials 8 measures only the rest ({added} new records)")

        out = os.path.join(tmp, "lib")
        r = run("compile", spec_path, "-o", out, "--tuning-db", db)
        check(r.returncode == 0 and "kernels use tuned records" in r.stdout,
              f"compile --tuning-db: {r.stdout.strip().splitlines()[0] if r.stdout else r.stderr}")
        error = parity_error(spec_path, out, tmp)
        check(error <= 1e-5, f"the tuned library's logits within {error:.2e} of PyTorch (1e-5)")
        r = run("compile", spec_path, "-o", os.path.join(tmp, "other"), "--tuning-db", db,
                env={"MIXERC_CPU_MODEL": "Some Other CPU"})
        check(r.returncode == 0 and ": 0 of " in r.stdout,
              f"another CPU's compile applies no record: {r.stdout.strip()[:160]}")

        # A hung batch costs its timeout and then one pair per candidate: few trials for it.
        for mode, match, trials in (("crash", "micro_rows=2 ", "8"), ("hang", "micro_rows=3 ", "8"),
                                    ("wrong", "micro_rows=4 ", "8")):
            fdb = os.path.join(tmp, f"{mode}.db")
            r = run("tune", spec_path, "--db", fdb, "--trials", trials, "--candidate-timeout", "3",
                    *quick, env={"MIXERC_TUNE_FAULT": f"{mode}:{match}"})
            status = {"crash": "crash", "hang": "timeout", "wrong": "wrong"}[mode]
            faulty = rows(fdb, f"params LIKE '%{match}%'")
            others = rows(fdb, f"params NOT LIKE '%{match}%'")
            check(r.returncode == 0 and faulty and all(x[2] == status for x in faulty) and
                  others and all(x[2] == "ok" for x in others),
                  f"{mode}: {len(faulty)} candidates recorded '{status}', the other "
                  f"{len(others)} measured, status {r.returncode}")

        r = run("tune", "--show", "--db", db)
        check(r.returncode == 0 and "trials" in r.stdout and "best" in r.stdout,
              "--show lists kernels with trials, default and best")
        text = os.path.join(tmp, "text.db")
        open(text, "w").write("hello\n" * 100)
        r = run("compile", spec_path, "-o", os.path.join(tmp, "x"), "--tuning-db", text)
        check(r.returncode == 2 and "not a mixerc tuning database" in r.stderr and
              open(text).read() == "hello\n" * 100, f"a foreign file: {r.stderr.strip()}")
        with sqlite3.connect(db) as c:
            kernel = records[0][0]
            c.execute("UPDATE records SET params = 'panel=banana', median_ms = 1e-9 "
                      "WHERE kernel = ? AND id = (SELECT min(id) FROM records WHERE kernel = ?)",
                      (kernel, kernel))
        r = run("compile", spec_path, "-o", os.path.join(tmp, "y"), "--tuning-db", db)
        check(r.returncode == 2 and "is not a schedule of it" in r.stderr and kernel in r.stderr,
              f"a corrupt record: {r.stderr.strip()[:200]}")
        r = run("tune", spec_path, "--db", db, "--time-budget", "soon")
        check(r.returncode == 2 and "--time-budget" in r.stderr, f"bad budget: {r.stderr.strip()}")
        r = run("tune", spec_path)
        check(r.returncode == 2 and "--db" in r.stderr, f"no database: {r.stderr.strip()}")

        tdb = os.path.join(tmp, "train.db")
        r = run("tune", spec_path, "--db", tdb, "--trials", "1", "--training", *quick)
        trained = {k for k, *_ in rows(tdb)}
        check(r.returncode == 0 and len(trained) > len(kernels),
              f"--training tunes {len(trained)} kernels (inference: {len(kernels)})")

        # The depthwise family: ConvMixer's depthwise convolutions are tuned with the pointwise
        # GEMMs, their drawn records match the default, and the tuned library keeps parity.
        cdb = os.path.join(tmp, "conv.db")
        r = run("tune", conv_spec_path, "--db", cdb, "--trials", "4", *quick)
        conv = rows(cdb, "kernel LIKE 'depthwise%'")
        check(r.returncode == 0 and conv and all(x[2] == "ok" for x in conv),
              f"ConvMixer: {len(conv)} depthwise records, all built and matching the default "
              f"(status {r.returncode}{'' if r.returncode == 0 else ': ' + r.stderr[-1000:]})")
        # Inference kernels are timed at what the library runs them at: its chunk of images.
        plan = run("compile", conv_spec_path, "--emit", "plan").stdout
        chunk = re.search(r"(\d+) images per chunk", plan).group(1)
        r = run("tune", conv_spec_path, "--db", os.path.join(tmp, "chunk.db"), "--trials", "0",
                "--batch", "500", "--threads", "2")
        check(r.returncode == 0 and f"batch 500 (inference kernels at {chunk}, the library's chunk)"
              in r.stderr, f"a batch beyond the chunk of {chunk}: {r.stderr.strip()[:300]}")
        cout = os.path.join(tmp, "conv_lib")
        r = run("compile", conv_spec_path, "-o", cout, "--tuning-db", cdb)
        check(r.returncode == 0, f"compile ConvMixer --tuning-db: {r.stdout.strip()[:160]}")
        if r.returncode == 0:
            error = parity_error(conv_spec_path, cout, tmp)
            check(error <= 1e-5, f"the tuned ConvMixer's logits within {error:.2e} of PyTorch")
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
