"""``medcodec report``: ratio, speed and quality per modality and codec from an audit trail, as HTML or PNG.

The HTML page is self-contained (the figure is embedded as a PNG) and lists the same table the figure plots.
matplotlib is the optional ``report`` extra: ``pip install medcodec[report]``.
"""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medcodec.audit import SUCCESS_OUTCOMES, read_audit
from medcodec.errors import MedcodecError


class ReportError(MedcodecError, ValueError):
    """The audit file cannot be summarised (empty, unreadable) or the output type is unknown."""


@dataclass
class Group:
    modality: str
    codec: str
    instances: int = 0
    lossy: int = 0
    original_bytes: int = 0
    compressed_bytes: int = 0
    milliseconds: float = 0.0
    psnr: list[float] = field(default_factory=list)
    max_abs_error: float = 0.0

    def row(self) -> dict[str, Any]:
        seconds = self.milliseconds / 1000
        return {
            "modality": self.modality, "codec": self.codec, "instances": self.instances, "lossy": self.lossy,
            "original_bytes": self.original_bytes, "compressed_bytes": self.compressed_bytes,
            "ratio": round(self.original_bytes / self.compressed_bytes, 3) if self.compressed_bytes else None,
            "mb_per_second": round(self.original_bytes / 1e6 / seconds, 2) if seconds > 0 else None,
            "min_psnr": round(min(self.psnr), 2) if self.psnr else None,
            "max_abs_error": self.max_abs_error,
        }


@dataclass
class Aggregate:
    groups: dict[tuple[str, str], Group]
    outcomes: dict[str, int]
    failures_by_codec: dict[str, int]
    bad_lines: list[int]
    totals: dict[str, Any]


def aggregate(audit_path: str | Path) -> Aggregate:
    """Group successful compressions by (modality, codec); count every outcome."""
    audit = read_audit(audit_path)
    if not audit.records:
        raise ReportError(f"audit file '{audit_path}' has no records")
    groups: dict[tuple[str, str], Group] = {}
    outcomes: dict[str, int] = defaultdict(int)
    failures: dict[str, int] = defaultdict(int)
    # A resumed run may have recorded an instance twice: the last record per output UID counts.
    latest = audit.latest_by_output()
    for record in audit.records:
        outcomes[str(record.get("outcome"))] += 1
        if record.get("outcome") in ("failed", "refused"):
            failures[str(record.get("codec") or "(none)")] += 1
    for record in latest.values():
        if record.get("outcome") not in SUCCESS_OUTCOMES or not record.get("codec"):
            continue  # decompressions have no codec to compare
        key = (str(record.get("modality") or "?"), str(record["codec"]))
        group = groups.setdefault(key, Group(*key))
        group.instances += 1
        group.lossy += int(bool(record.get("lossy")))
        group.original_bytes += int(record.get("original_bytes") or 0)
        group.compressed_bytes += int(record.get("compressed_bytes") or 0)
        group.milliseconds += float(record.get("milliseconds") or 0.0)
        if record.get("psnr") is not None:
            group.psnr.append(float(record["psnr"]))
        group.max_abs_error = max(group.max_abs_error, float(record.get("max_abs_error") or 0.0))
    original = sum(g.original_bytes for g in groups.values())
    compressed = sum(g.compressed_bytes for g in groups.values())
    totals = {"records": len(audit.records), "instances": sum(g.instances for g in groups.values()),
              "ratio": round(original / compressed, 3) if compressed else None,
              "outcomes": dict(outcomes), "unreadable_lines": len(audit.bad_lines)}
    return Aggregate(groups, dict(outcomes), dict(failures), audit.bad_lines, totals)


def figure_png(agg: Aggregate, title: str) -> bytes:
    """Three panels: ratio and throughput per codec and modality, and PSNR against ratio for lossy results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = sorted(agg.groups.values(), key=lambda g: (g.codec, g.modality))
    codecs = sorted({g.codec for g in rows})
    modalities = sorted({g.modality for g in rows})
    crowded = len(modalities) > 3  # vertical value labels, or they overlap
    fig, axes = plt.subplots(1, 3, figsize=(17, 6.2), constrained_layout=True)
    width = 0.8 / max(len(modalities), 1)
    x = np.arange(len(codecs))
    colours = plt.get_cmap("tab10")
    for panel, (ax, metric, label) in enumerate(zip(
            axes[:2], ("ratio", "mb_per_second"), ("compression ratio (higher is better)",
                                                   "encode + verify throughput, MB/s of native pixels"))):
        for i, modality in enumerate(modalities):
            present = [(j, agg.groups[(modality, codec)].row()[metric] or 0.0)
                       for j, codec in enumerate(codecs) if (modality, codec) in agg.groups]
            if not present:
                continue
            positions = [x[j] + (i - (len(modalities) - 1) / 2) * width for j, _ in present]
            bars = ax.bar(positions, [v for _, v in present], width, label=modality, color=colours(i % 10))
            ax.bar_label(bars, fmt="%.1f", fontsize=6 if crowded else 8, padding=1,
                         rotation=90 if crowded else 0)
        ax.set_xticks(x, codecs, rotation=20, ha="right", fontsize=9)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
        if panel == 0:
            ax.legend(title="modality", fontsize=8)
    axes[0].set_title("Ratio per codec and modality")
    axes[1].set_title("Speed per codec and modality")
    ax = axes[2]
    plotted = False
    for i, g in enumerate(rows):
        if g.psnr:
            ratio = g.row()["ratio"] or 0.0
            ax.scatter([ratio] * len(g.psnr), g.psnr, label=f"{g.codec} / {g.modality}",
                       color=colours(i % 10), s=22)
            plotted = True
    if plotted:
        ax.legend(fontsize=7)
        ax.set_xlabel("group compression ratio")
        ax.set_ylabel("PSNR per instance, dB (peak = dynamic range)")
    else:
        ax.text(0.5, 0.5, "no lossy results:\nevery instance is bit-exact", ha="center", va="center",
                fontsize=12, transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_title("Lossy quality")
    ax.grid(alpha=0.3)
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(agg.outcomes.items()))
    fig.suptitle(f"{title} -- {agg.totals['instances']} distinct results from {agg.totals['records']} audit "
                 f"lines; outcomes: {outcomes}", fontsize=11)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _html(agg: Aggregate, png: bytes, title: str) -> str:
    rows = [g.row() for g in sorted(agg.groups.values(), key=lambda g: (g.modality, g.codec))]
    columns = ["modality", "codec", "instances", "lossy", "original_bytes", "compressed_bytes", "ratio",
               "mb_per_second", "min_psnr", "max_abs_error"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape('-' if r[c] is None else str(r[c]))}</td>"
                                      for c in columns) + "</tr>" for r in rows)
    failures = "".join(f"<li>{html.escape(codec)}: {n}</li>" for codec, n in sorted(agg.failures_by_codec.items()))
    outcomes = ", ".join(f"{html.escape(k)}: {v}" for k, v in sorted(agg.outcomes.items()))
    image = base64.b64encode(png).decode()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:3px 8px;text-align:right}} th{{background:#eee}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>Generated {datetime.now(UTC).isoformat(timespec="seconds")}. Outcomes: {outcomes}.
Overall ratio: {agg.totals['ratio']}. Unreadable audit lines: {len(agg.bad_lines)}.</p>
<img alt="ratio, speed and quality per codec and modality" src="data:image/png;base64,{image}" style="max-width:100%">
<h2>Per modality and codec</h2><table><tr>{head}</tr>
{body}</table>
<h2>Failures and refusals by codec</h2><ul>{failures or '<li>none</li>'}</ul>
</body></html>
"""


def write_report(audit_path: str | Path, output: str | Path) -> list[dict[str, Any]]:
    """Write ``output`` (.html or .png) from ``audit_path``; returns the per-group table."""
    output = Path(output)
    if output.suffix.lower() not in (".html", ".htm", ".png"):
        raise ReportError(f"report output '{output}' must end in .html or .png")
    agg = aggregate(audit_path)
    title = f"medcodec report: {Path(audit_path).name}"
    png = figure_png(agg, title)
    if output.suffix.lower() == ".png":
        output.write_bytes(png)
    else:
        output.write_text(_html(agg, png, title), encoding="utf-8")
    return [g.row() for g in sorted(agg.groups.values(), key=lambda g: (g.modality, g.codec))]
