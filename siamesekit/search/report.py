"""An HTML page of duplicate groups, for a person deciding what to delete.

One self-contained file (thumbnails are embedded, no network, no script):
each group shows its images as thumbnails with their similarity to the
representative and whether they are exact copies, and a difference heatmap
of the closest near-duplicate pair, so the reader can tell a re-encoded copy
from a photo where something changed. The report only shows; it never
deletes or moves a file.
"""

from __future__ import annotations

import base64
import html
import os
import tempfile

import cv2
import numpy as np

from siamesekit.comparator import Comparator
from siamesekit.comparator.rendering import overlay, to_rgb_uint8
from siamesekit.data.images import load_image
from siamesekit.errors import ImageError, OutputExistsError

THUMBNAIL_SIDE = 180
DEFAULT_MAX_GROUPS = 200

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; }
.summary { color: #555; margin-bottom: 20px; }
.group { border: 1px solid #ddd; border-radius: 8px; padding: 12px 16px;
  margin-bottom: 18px; }
.group h2 { font-size: 16px; margin: 0 0 10px; }
.row { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
figure { margin: 0; width: 180px; }
figure img { max-width: 180px; max-height: 180px; display: block;
  border: 1px solid #ccc; }
figcaption { font-size: 12px; word-break: break-all; margin-top: 4px; }
.score { font-weight: 600; }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px;
  font-size: 11px; background: #e8e8e8; margin-left: 4px; }
.tag.exact { background: #ffe1c2; }
.heatmap { margin-left: 24px; }
.heatmap img { width: 180px; max-height: none; }
.heatmap figcaption { word-break: normal; }
.note { color: #666; font-size: 12px; }
"""


def _data_uri(image_rgb: np.ndarray, side: int = THUMBNAIL_SIDE) -> str:
    image = to_rgb_uint8(image_rgb)
    height, width = image.shape[:2]
    scale = min(1.0, side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 RGB image
        raise ImageError("Could not encode a thumbnail.")
    return "data:image/jpeg;base64," + base64.b64encode(encoded).decode("ascii")


def _thumbnail(image_id: str) -> str | None:
    try:
        return _data_uri(load_image(image_id, channels=3))
    except (ImageError, OSError):
        return None


def _figure(image_id: str, caption: str, tags: list) -> str:
    source = _thumbnail(image_id)
    picture = (
        f'<img src="{source}" alt="{html.escape(image_id)}">'
        if source
        else '<div class="note">(could not be read)</div>'
    )
    labels = "".join(f'<span class="tag {t}">{t}</span>' for t in tags)
    return (
        f"<figure>{picture}<figcaption><span class='score'>{caption}</span>"
        f"{labels}<br>{html.escape(image_id)}</figcaption></figure>"
    )


def _heatmap_section(group, comparator: Comparator | None, check) -> str:
    """The representative against its closest non-identical copy; with a
    `GeometricCheck`, the copy is first warped onto the representative."""
    candidates = [
        (image_id, similarity)
        for image_id, similarity, exact in zip(
            group.ids[1:], group.similarities[1:], group.exact[1:]
        )
        if not exact
    ]
    if not candidates:
        return '<div class="note">All copies are byte-identical files.</div>'
    if comparator is None or not comparator.supports_network_heatmaps:
        return ""
    member, similarity = candidates[0]
    aligned = ""
    try:
        pixels = load_image(member, channels=3)  # read once: checked, drawn on
        second, shown = member, pixels
        if check is not None:
            match, warped = check.align(group.representative, pixels)
            # A pair kept unchecked (verify_below) may align poorly: only a
            # transform the check confirms moves the copy.
            if warped is not None and match.matched:
                second = shown = warped
                aligned = (
                    f" The copy was aligned first (scale {match.scale:.2f}, "
                    f"turned {match.rotation_degrees:.1f}&deg;); outside it, "
                    "the representative's own pixels."
                )
        result = comparator.compare(group.representative, second)
        # The heatmap is at the tower's input size; drawn over the copy at
        # its own size, it keeps the photo's shape rather than the tower's.
        picture = overlay(shown, result.heatmap, result.display_scale)
    except (ImageError, OSError) as error:
        return f'<div class="note">No heatmap: {html.escape(str(error))}</div>'
    regions = len(result.regions)
    where = {0: "no region stands out", 1: "1 region differs"}.get(
        regions, f"{regions} regions differ"
    )
    return (
        '<figure class="heatmap"><img src="'
        + _data_uri(picture)
        + '" alt="difference heatmap"><figcaption><span class="score">'
        "where they differ</span><br>"
        f"{html.escape(os.path.basename(member))} against the representative: "
        f"{where} (red = differs).{aligned}</figcaption></figure>"
    )


def write_duplicates_report(
    report,
    path,
    comparator: Comparator | None = None,
    *,
    max_groups: int = DEFAULT_MAX_GROUPS,
    overwrite: bool = False,
) -> str:
    """Writes an HTML page of a `DuplicateReport`; returns its path.

    Args:
        report: a `siamesekit.search.DuplicateReport`.
        path: the `.html` file to write.
        comparator: the comparator for the difference heatmaps; `None` for
            none. Defaults to `None`.
        max_groups: int, the largest groups shown (the page says how many
            were left out). Defaults to `200`.
        overwrite: replace an existing file. Defaults to `False`.

    Raises:
        OutputExistsError: if `path` exists and `overwrite` is False.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise OutputExistsError(
            f"The report {path!r} already exists; pass overwrite=True "
            "(--overwrite) to replace it, or choose another path."
        )
    shown = report.groups[:max_groups]
    verified = ""
    if report.verify is not None:
        verified = ", each pair verified by its aligned pixels"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>Duplicate images</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Duplicate images</h1>",
        f"<div class='summary'>{len(report.groups)} groups, "
        f"{report.num_duplicates} copies among {report.num_images} images "
        f"(minimum similarity {report.min_similarity:g}{verified}). "
        "The first image of "
        "each group is the one the others were matched against (not a "
        "suggestion of which to keep); nothing has been deleted or moved.",
    ]
    if len(shown) < len(report.groups):
        parts.append(f" Showing the {len(shown)} largest groups.")
    if report.skipped:
        count = len(report.skipped)
        parts.append(f" {count} file{'s' if count != 1 else ''} could not be read.")
    parts.append("</div>")
    for number, group in enumerate(shown, start=1):
        parts.append(
            f"<div class='group'><h2>Group {number}: {len(group)} images</h2>"
            "<div class='row'>"
        )
        for position, (image_id, similarity, exact) in enumerate(
            zip(group.ids, group.similarities, group.exact)
        ):
            if position == 0:
                parts.append(_figure(image_id, "representative", []))
            else:
                tags = ["exact"] if exact else []
                parts.append(_figure(image_id, f"similarity {similarity:.3f}", tags))
        heatmap = _heatmap_section(group, comparator, report.verify)
        parts.append(heatmap + "</div></div>")
    if report.skipped:
        parts.append("<h2>Files that could not be read</h2><ul>")
        parts += [
            f"<li>{html.escape(str(image_id))}: {html.escape(reason)}</li>"
            for image_id, reason in report.skipped
        ]
        parts.append("</ul>")
    parts.append("</body></html>")
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write("".join(parts))
    os.replace(temporary, path)
    return path
