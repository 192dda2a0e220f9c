"""Search at scale: siamesekit.Index against raw FAISS, IVF/HNSW recall,
find_duplicates over many embeddings, with peak memory.

    python benchmarks/bench_search.py                # 1M gallery, 200k duplicates
    python benchmarks/bench_search.py --size 100000 --duplicates-size 20000

Random 128-d unit embeddings stand in for a model's (search cost does not
depend on where the vectors came from). Each measurement runs in its own
process, so its peak memory (ru_maxrss) is its own. Printed side by side in
one run: build time, exact queries/s of siamesekit.Index and of raw FAISS on
the same data, recall@10 and queries/s of IVF and HNSW, and find_duplicates'
time, peak memory and agreement with the planted copies.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import time

import numpy as np

DIM = 128


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _gallery(size: int, seed: int = 0) -> np.ndarray:
    return _unit(np.random.default_rng(seed).normal(size=(size, DIM)))


def _queries(count: int) -> np.ndarray:
    return _unit(np.random.default_rng(1).normal(size=(count, DIM)))


def _peak_mb() -> float:
    """This process's peak resident memory so far (VmHWM), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    """Starts the peak count again from the current memory (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass


def _best_qps(search, queries, rounds=3) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        search(queries)
        best = min(best, time.perf_counter() - start)
    return len(queries) / best


def _exact(size, queries_count, k):
    """siamesekit.Index (flat) and raw FAISS on the same vectors, in turn."""
    import faiss

    from siamesekit.search import Index

    vectors, queries = _gallery(size), _queries(queries_count)
    ids = [str(i) for i in range(size)]
    _reset_peak()  # the peak from here on: what the indexes add to the vectors
    generated = _peak_mb()
    start = time.perf_counter()
    raw = faiss.IndexFlatIP(DIM)
    raw.add(vectors)
    raw_build = time.perf_counter() - start
    start = time.perf_counter()
    index = Index(dim=DIM)
    index.add_embeddings(vectors, ids)
    ours_build = time.perf_counter() - start
    raw_qps, ours_qps = [], []
    for _ in range(3):  # alternated, so that load on the machine hits both
        raw_qps.append(_best_qps(lambda q: raw.search(q, k), queries, 1))
        ours_qps.append(_best_qps(lambda q: index.search_embeddings(q, k), queries, 1))
    _, labels = raw.search(queries, k)
    ours = index.search_embeddings(queries, k).ids
    agree = float(np.mean([list(map(int, o)) == list(t) for o, t in zip(ours, labels)]))
    return {
        "raw_build_s": raw_build,
        "build_s": ours_build,
        "raw_qps": max(raw_qps),
        "qps": max(ours_qps),
        "same_results": agree,
        "labels": labels.tolist(),
        "above_vectors_mb": _peak_mb() - generated,
    }


def _approximate(size, queries_count, k, kind, settings, truth):
    from siamesekit.search import Index

    vectors, queries = _gallery(size), _queries(queries_count)
    _reset_peak()  # the peak from here on: what the index adds to the vectors
    generated = _peak_mb()
    start = time.perf_counter()
    index = Index(dim=DIM, kind=kind)
    index.add_embeddings(vectors, [str(i) for i in range(size)])
    del vectors
    index.search_embeddings(queries[:1], k)  # IVF trains at its first search
    build = time.perf_counter() - start
    rows = []
    for value in settings:
        setattr(index, "nprobe" if kind == "ivf" else "ef_search", value)
        qps = _best_qps(lambda q: index.search_embeddings(q, k), queries)
        found = [
            [int(i) for i in row] for row in index.search_embeddings(queries, k).ids
        ]
        rows.append((value, qps, _recall(found, truth, k)))
    return {"build_s": build, "rows": rows, "above_vectors_mb": _peak_mb() - generated}


def _planted_duplicates(size, copies, seed=2):
    """`size` embeddings of which `copies` are noisy copies of others."""
    rng = np.random.default_rng(seed)
    originals = _gallery(size - copies, seed)
    sources = rng.choice(len(originals), copies, replace=False)
    # Noise of 0.02 per dimension: cosine to the original ~ 0.95.
    noisy = _unit(originals[sources] + rng.normal(scale=0.02, size=(copies, DIM)))
    return np.concatenate([originals, noisy]), sources


def _find_duplicates(size, copies, min_similarity):
    from siamesekit.search import Index, find_duplicates

    vectors, sources = _planted_duplicates(size, copies)
    index = Index(dim=DIM)
    index.add_embeddings(vectors, [str(i) for i in range(size)])
    del vectors
    _reset_peak()
    before = _peak_mb()
    start = time.perf_counter()
    report = find_duplicates(index, min_similarity=min_similarity)
    seconds = time.perf_counter() - start
    # Planted pairs (original, copy) found in one group.
    group_of = {}
    for number, group in enumerate(report.groups):
        for image_id in group.ids:
            group_of[int(image_id)] = number
    originals = size - copies
    found = sum(
        group_of.get(int(source), -1) == group_of.get(originals + i, -2)
        for i, source in enumerate(sources)
    )
    return {
        "seconds": seconds,
        "peak_mb": _peak_mb(),
        "peak_before_mb": before,
        "groups": len(report.groups),
        "planted_found": found,
        "planted": copies,
        "largest_group": max((len(group) for group in report.groups), default=0),
    }


def _run(function, *args):
    """Runs `function(*args)` in a fresh process; returns its result and peak."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_measured, (function, args))


def _measured(function, args):
    result = function(*args)
    result["process_peak_mb"] = _peak_mb()
    return result


def _recall(found, truth, k):
    return float(
        np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)])
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--duplicates-size", type=int, default=200_000)
    parser.add_argument("--min-similarity", type=float, default=0.9)
    parser.add_argument(
        "--parts",
        default="exact,ivf,hnsw,duplicates",
        help="which measurements to run (comma-separated; exact is needed by "
        "ivf and hnsw for their recall)",
    )
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args(argv)
    k = 10
    print(
        f"gallery: {args.size:,} random {DIM}-d unit embeddings; {args.queries} "
        f"queries; k = {k}"
    )
    parts = set(args.parts.split(","))
    exact = _run(_exact, args.size, args.queries, k)
    truth = exact.pop("labels")
    print(
        f"exact (IndexFlatIP): build raw FAISS {exact['raw_build_s']:.2f} s, "
        f"siamesekit.Index {exact['build_s']:.2f} s; queries/s raw FAISS "
        f"{exact['raw_qps']:.0f}, siamesekit.Index {exact['qps']:.0f}: "
        f"{exact['qps'] / exact['raw_qps']:.2f}x; same top-{k} for "
        f"{exact['same_results']:.1%} of queries; peak memory above the "
        f"generated vectors {exact['above_vectors_mb']:.0f} MB (both indexes)"
    )
    results = {"exact": exact}
    for kind, name, settings in (
        ("ivf", "nprobe", (16, 64, 256)),
        ("hnsw", "ef_search", (64, 128, 512)),
    ):
        if kind not in parts:
            continue
        row = _run(_approximate, args.size, args.queries, k, kind, settings, truth)
        results[kind] = row
        print(
            f"{kind}: build {row['build_s']:.1f} s, peak memory above the "
            f"generated vectors {row['above_vectors_mb']:.0f} MB (the index)"
        )
        for value, qps, recall in row["rows"]:
            print(
                f"  {name} {value:4d}: {qps:8.0f} queries/s "
                f"({qps / exact['qps']:5.1f}x exact), recall@{k} {recall:.3f}"
            )
    if "duplicates" in parts:
        results["duplicates"] = _report_duplicates(args)
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=1)


def _report_duplicates(args):
    copies = args.duplicates_size // 20
    dup = _run(_find_duplicates, args.duplicates_size, copies, args.min_similarity)
    dense_gb = args.duplicates_size**2 * 4 / 1e9
    print(
        f"find_duplicates over {args.duplicates_size:,} embeddings ({copies:,} "
        f"planted copies, min_similarity {args.min_similarity}): "
        f"{dup['seconds']:.1f} s, {dup['groups']:,} groups, "
        f"{dup['planted_found']:,}/{copies:,} planted pairs grouped, largest "
        f"group {dup['largest_group']}; peak resident memory while it ran "
        f"{dup['process_peak_mb']:.0f} MB, {dup['peak_before_mb']:.0f} MB of it "
        "there before (Python, TensorFlow, the filled index)"
    )
    print(
        f"the dense alternative, a {args.duplicates_size:,}^2 float32 "
        f"similarity matrix: {dense_gb:.0f} GB"
    )
    return dup


if __name__ == "__main__":
    main()
