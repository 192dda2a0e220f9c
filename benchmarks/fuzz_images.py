"""Fuzzing image decoding: mutated files through `siamesekit.load_image`.

Seeds are valid images of every format OpenCV decodes here (PNG, JPEG, BMP,
TIFF, WebP, GIF, JPEG 2000, PNM, PFM, Radiance HDR, Sun raster; grey, RGB,
RGBA, 16-bit, float), encoded in the script from a downscaled
`skimage.data.astronaut()`. Each fuzzed file is one seed with one to three
mutations: byte flips, truncation, a declared width and height rewritten to
huge values, a duplicated chunk, inserted or zeroed bytes.

Every file is decoded in worker subprocesses (a pool that replaces a worker
when it dies or hangs), three ways: `load_image(path)` at full size,
`load_image(bytes, size=(32, 32))`, and, for every `--compare-every`-th
file, `siamesekit.Comparator(...).compare(path, seed)` with a small random
tower. Each outcome is one of: success, typed error (a
`siamesekit.errors.SiamesekitError`), untyped exception, crash (the worker
died, by a signal or otherwise) or hang (no answer within `--timeout`).
Memory is the high-water mark (`ru_maxrss`) of the workers, reported in
full and above what importing siamesekit already costs. Run:

    .venv/bin/python benchmarks/fuzz_images.py [--files 1000] [--workers 2]

The goal: no crash, hang or untyped exception, and under 1 GB of decoding
memory for any input under 10 MB.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import select
import struct
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

OUTCOMES = ("success", "typed error", "untyped exception", "crash", "hang")
HUGE_SIDES = (8192, 8193, 16383, 30000, 65535, 2**31 - 1, 2**32 - 1)
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_seeds() -> dict[str, bytes]:
    """Valid encoded images, by name: 24 of them, 16 formats and variants."""
    from skimage import data

    rgb = cv2.resize(data.astronaut(), (48, 40), interpolation=cv2.INTER_AREA)
    bgr = rgb[:, :, ::-1].copy()
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    bgra = np.dstack([bgr, np.full(grey.shape, 200, np.uint8)])
    deep = bgr.astype(np.uint16) * 257
    unit = (bgr / 255.0).astype(np.float32)
    webp_lossy = [cv2.IMWRITE_WEBP_QUALITY, 80]
    progressive = [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]
    cases = {
        "grey.png": (".png", grey, []),
        "rgb.png": (".png", bgr, []),
        "rgba.png": (".png", bgra, []),
        "rgb16.png": (".png", deep, []),
        "grey16.png": (".png", deep[:, :, 0], []),
        "grey.jpg": (".jpg", grey, []),
        "rgb.jpg": (".jpg", bgr, []),
        "progressive.jpg": (".jpg", bgr, progressive),
        "grey.bmp": (".bmp", grey, []),
        "rgb.bmp": (".bmp", bgr, []),
        "rgb.tiff": (".tiff", bgr, []),
        "rgba16.tiff": (".tiff", np.dstack([deep, deep[:, :, :1]]), []),
        "float.tiff": (".tiff", unit, []),
        "lossy.webp": (".webp", bgr, webp_lossy),
        "lossless.webp": (".webp", bgra, []),
        "rgb.gif": (".gif", bgr, []),
        "rgb.jp2": (".jp2", bgr, []),
        "grey.pgm": (".pgm", grey, []),
        "rgb.ppm": (".ppm", bgr, []),
        "grey16.pgm": (".pgm", deep[:, :, 0], []),
        "rgb.pam": (".pam", bgr, []),
        "rgb.pfm": (".pfm", unit, []),
        "rgb.hdr": (".hdr", unit, []),
        "rgb.ras": (".ras", bgr, []),
    }
    seeds = {}
    for name, (extension, pixels, params) in cases.items():
        ok, encoded = cv2.imencode(extension, pixels, params)
        if ok:
            seeds[name] = encoded.tobytes()
    return seeds


def _rewrite_dimensions(rng: random.Random, data: bytearray) -> None:
    """Writes huge sides where the format keeps them, else somewhere early."""
    side = rng.choice(HUGE_SIDES)
    if data.startswith(b"\x89PNG"):
        struct.pack_into(">II", data, 16, side, rng.choice(HUGE_SIDES))
    elif data.startswith(b"\xff\xd8") and (frame := data.find(b"\xff\xc0")) > 0:
        struct.pack_into(">HH", data, frame + 5, side & 0xFFFF, side & 0xFFFF)
    elif data.startswith(b"BM"):
        struct.pack_into("<II", data, 18, side, rng.choice(HUGE_SIDES))
    elif data.startswith(b"GIF"):
        struct.pack_into("<HH", data, 6, side & 0xFFFF, side & 0xFFFF)
    elif data[8:12] == b"WEBP":
        struct.pack_into("<HH", data, 26, side & 0xFFFF, side & 0xFFFF)
    else:
        offset = rng.randrange(0, min(64, len(data) - 4))
        layout = rng.choice(("<I", ">I", "<H", ">H"))
        struct.pack_into(layout, data, offset, side & (0xFFFF if "H" in layout else -1))


def mutate(rng: random.Random, seed: bytes) -> bytes:
    """One to three random mutations of `seed`."""
    data = bytearray(seed)
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(("flip", "truncate", "dimensions", "duplicate", "insert"))
        if kind == "flip":
            for _ in range(rng.randint(1, 8)):
                # Headers are where decoders trust what they read: aim there.
                end = len(data) if rng.random() < 0.5 else min(len(data), 64)
                data[rng.randrange(end)] ^= 1 << rng.randrange(8)
        elif kind == "truncate":
            del data[rng.randint(1, len(data) - 1) :]
        elif kind == "dimensions" and len(data) > 32:
            try:
                _rewrite_dimensions(rng, data)
            except struct.error:
                pass  # earlier mutations moved the sides past the end
        elif kind == "duplicate":
            start = rng.randrange(len(data))
            chunk = data[start : start + rng.randint(1, 512)]
            at = rng.randrange(len(data))
            data[at:at] = chunk * rng.randint(1, 4)
        elif kind == "insert":
            at = rng.randrange(len(data))
            data[at:at] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
        if len(data) < 2:
            data = bytearray(seed[:2])
    return bytes(data)


def write_fuzz_files(folder: str, count: int, seed: int = 0) -> list[tuple]:
    """Writes `count` mutated files; returns `(path, seed_path)` pairs."""
    rng = random.Random(seed)
    seeds = make_seeds()
    seed_paths = {}
    for name, encoded in seeds.items():
        seed_paths[name] = os.path.join(folder, "seed-" + name)
        with open(seed_paths[name], "wb") as file:
            file.write(encoded)
    files = []
    names = sorted(seeds)
    for index in range(count):
        name = names[index % len(names)]
        path = os.path.join(folder, f"{index:04d}-{name}")
        with open(path, "wb") as file:
            file.write(mutate(rng, seeds[name]))
        files.append((path, seed_paths[name]))
    return files


# --- The worker: one subprocess answering one JSON line per request. ---


def _small_comparator(siamesekit):
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=(32, 32, 3),
        weights=None,
        dense_units=8,
        embedding_dim=4,
    )
    return siamesekit.Comparator(tower, progress=False)


def _worker(compare: bool) -> None:
    import resource

    import numpy as np

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import siamesekit
    from siamesekit.errors import SiamesekitError

    comparator = None
    if compare:
        # Built and traced (for pairs of two distinct images) before the
        # first request, so the seconds of tracing the heatmap count against
        # no file's timeout, and its memory is part of the baseline.
        comparator = _small_comparator(siamesekit)
        warm_up = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), np.uint8)
        comparator.compare(warm_up[0], warm_up[1])
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"ready": True, "baseline_kb": baseline}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        start = time.perf_counter()
        try:
            if request["how"] == "path":
                siamesekit.load_image(request["path"])
            elif request["how"] == "bytes":
                with open(request["path"], "rb") as file:
                    siamesekit.load_image(file.read(), size=(32, 32))
            else:
                comparator.compare(request["path"], request["seed"])
            outcome, error = "success", None
        except SiamesekitError as caught:
            outcome, error = "typed error", f"{type(caught).__name__}: {caught}"
        except Exception as caught:  # noqa: BLE001 - what the fuzzer looks for
            outcome, error = "untyped exception", f"{type(caught).__name__}: {caught}"
        answer = {
            "outcome": outcome,
            "error": error,
            "seconds": time.perf_counter() - start,
            "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
        print(json.dumps(answer), flush=True)


class _Worker:
    def __init__(self, extra_env: dict | None = None, compare: bool = False):
        environment = dict(os.environ, PYTHONPATH=REPOSITORY, **(extra_env or {}))
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker"]
            + (["--compare"] if compare else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=environment,
            cwd=REPOSITORY,
        )
        self.request = None
        self.started = None
        ready = json.loads(self.process.stdout.readline())
        self.baseline_kb = ready["baseline_kb"]

    def send(self, request: dict) -> None:
        self.request, self.started = request, time.perf_counter()
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def stop(self) -> int:
        self.process.kill()
        return self.process.wait()


def run_requests(requests, workers=2, timeout=10.0, extra_env=None) -> list[dict]:
    """Runs each request in the worker pool; returns one result per request."""
    pending = collections.deque(requests)
    compare = any(request["how"] == "compare" for request in requests)
    pool = [_Worker(extra_env, compare) for _ in range(min(workers, len(pending)))]
    results = []
    while pool:
        for worker in list(pool):
            if worker.request is None:
                if pending:
                    worker.send(pending.popleft())
                else:
                    worker.stop()
                    pool.remove(worker)
        busy = {worker.process.stdout: worker for worker in pool}
        if not busy:
            break
        readable, _, _ = select.select(list(busy), [], [], 0.2)
        for stream in readable:
            worker = busy[stream]
            line = stream.readline()
            result = dict(worker.request, baseline_kb=worker.baseline_kb)
            if line:
                result.update(json.loads(line))
            else:
                code = worker.process.wait()
                result.update(outcome="crash", error=f"worker exit status {code}")
            results.append(result)
            if not line:
                pool[pool.index(worker)] = _Worker(extra_env, compare)
            else:
                worker.request = None
        for worker in list(pool):
            late = worker.request and time.perf_counter() - worker.started > timeout
            if late and worker.process.stdout not in readable:
                worker.stop()
                result = dict(worker.request, outcome="hang", error=f"> {timeout} s")
                results.append(result)
                pool[pool.index(worker)] = _Worker(extra_env, compare)
    return results


def summarize(results: list[dict]) -> str:
    lines = []
    for how in ("path", "bytes", "compare"):
        subset = [result for result in results if result["how"] == how]
        if not subset:
            continue
        counts = collections.Counter(result["outcome"] for result in subset)
        shown = ", ".join(f"{outcome} {counts[outcome]}" for outcome in OUTCOMES)
        lines.append(f"{how:>8}: {len(subset)} runs: {shown}")
        timed = [result for result in subset if "seconds" in result]
        if timed:
            slowest = max(timed, key=lambda result: result["seconds"])
            lines.append(
                f"{'':>10}slowest {slowest['seconds']:.3f} s: "
                f"{os.path.basename(slowest['path'])} ({slowest['outcome']})"
            )
    measured = [result for result in results if "maxrss_kb" in result]
    if measured:
        peak = max(measured, key=lambda result: result["maxrss_kb"])
        above = max(result["maxrss_kb"] - result["baseline_kb"] for result in measured)
        lines.append(
            f"peak memory: {peak['maxrss_kb'] / 1024:.0f} MiB ru_maxrss "
            f"({os.path.basename(peak['path'])}, {peak['how']}); at most "
            f"{above / 1024:.0f} MiB above the "
            f"{peak['baseline_kb'] / 1024:.0f} MiB of importing siamesekit"
        )
    for result in results:
        if result["outcome"] in ("untyped exception", "crash", "hang"):
            lines.append(
                f"  {result['outcome']}: {os.path.basename(result['path'])} "
                f"({result['how']}): {result['error']}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--compare-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--compare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.compare)
        return
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        files = write_fuzz_files(folder, args.files, args.seed)
        sizes = [os.path.getsize(path) for path, _ in files]
        requests = []
        for index, (path, seed_path) in enumerate(files):
            requests.append({"how": "path", "path": path})
            requests.append({"how": "bytes", "path": path})
            if index % args.compare_every == 0:
                requests.append({"how": "compare", "path": path, "seed": seed_path})
        results = run_requests(requests, args.workers, args.timeout)
    print(
        f"{len(files)} mutated files from {len(make_seeds())} seeds "
        f"({min(sizes)}-{max(sizes)} bytes), {args.workers} workers, "
        f"{args.timeout:g} s timeout, {time.perf_counter() - start:.0f} s in all"
    )
    print(summarize(results))


if __name__ == "__main__":
    main()
