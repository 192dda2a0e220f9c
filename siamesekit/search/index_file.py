"""Reading and writing `Index` files.

An index file is a NumPy `.npz` archive (a zip file, read with
`allow_pickle=False`, so loading one runs no code) of four members:

- `faiss`: the FAISS index, serialized (`faiss.serialize_index`), with the
  unit embeddings;
- `labels`: int64, the FAISS label of each id;
- `ids`: the ids, a UTF-8 JSON list in the order of `labels`;
- `meta`: UTF-8 JSON: format version, index kind and its settings, the
  embedding size, the model fingerprint and path, content hashes, and a
  SHA-256 of the other members.

Every member is checked before FAISS sees a byte, so a truncated, corrupt or
foreign file is refused with `IndexFileError`, never a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile

import numpy as np

from siamesekit.errors import IndexFileError, OutputExistsError

FORMAT = "siamesekit.Index"
FORMAT_VERSION = 1
_MEMBERS = {"faiss.npy", "labels.npy", "ids.npy", "meta.npy"}


def _text_member(value) -> np.ndarray:
    return np.frombuffer(json.dumps(value).encode("utf-8"), np.uint8)


def _digest(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def write_index_file(
    path,
    faiss_bytes: np.ndarray,
    labels: np.ndarray,
    ids: list,
    meta: dict,
    overwrite: bool = False,
) -> str:
    """Writes an index file atomically; returns its path.

    The file appears complete or not at all: it is written beside the target
    and renamed over it.

    Raises:
        OutputExistsError: if `path` exists and `overwrite` is False.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IndexFileError(
            f"The index path {path!r} is a folder; pass a file path such as "
            "'gallery.index'."
        )
    if os.path.exists(path) and not overwrite:
        raise OutputExistsError(
            f"The index file {path!r} already exists; pass overwrite=True to "
            "replace it, or choose another path."
        )
    ids_member = _text_member(ids)
    meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION)
    meta["sha256"] = _digest(faiss_bytes, labels, ids_member)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".index-", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(
                file,
                faiss=faiss_bytes,
                labels=labels,
                ids=ids_member,
                meta=_text_member(meta),
            )
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def read_index_file(path) -> tuple[np.ndarray, np.ndarray, list, dict]:
    """Reads and checks an index file: `(faiss_bytes, labels, ids, meta)`.

    Raises:
        IndexFileError: if the file is missing, not an index file, truncated,
            corrupt, or written by a newer siamesekit.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise IndexFileError(
            f"The index file {path!r} does not exist or is not a file."
        )

    def refuse(reason: str):
        return IndexFileError(
            f"{path!r} is not a readable siamesekit index file ({reason}); "
            "build it again with siamesekit.Index(...).save(path) or "
            "`siamesekit index`."
        )

    if not zipfile.is_zipfile(path):
        raise refuse("not a zip archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if set(archive.files) != {name[:-4] for name in _MEMBERS}:
                raise refuse(f"members {sorted(archive.files)}")
            members = {name: archive[name] for name in archive.files}
    except IndexFileError:
        raise
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as error:
        raise refuse(str(error) or type(error).__name__) from None
    try:
        meta = json.loads(members["meta"].tobytes().decode("utf-8"))
        ids = json.loads(members["ids"].tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise refuse(f"bad metadata: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise refuse("no siamesekit index metadata")
    if meta.get("format_version") != FORMAT_VERSION:
        raise IndexFileError(
            f"{path!r} is a version {meta.get('format_version')} index file; "
            f"this siamesekit reads version {FORMAT_VERSION}. Upgrade "
            "siamesekit or build the index again."
        )
    faiss_bytes, labels = members["faiss"], members["labels"]
    if faiss_bytes.dtype != np.uint8 or labels.dtype != np.int64:
        raise refuse("unexpected member types")
    if _digest(faiss_bytes, labels, members["ids"]) != meta.get("sha256"):
        raise refuse("checksum mismatch")
    if not isinstance(ids, list) or len(ids) != len(labels):
        raise refuse("ids and labels differ in length")
    return faiss_bytes, labels, ids, meta
