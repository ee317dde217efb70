"""The benchmark's table (markdown) and plot (PNG)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    """One mix at one size: the offline runner and the gRPC path side by side."""

    mix: str
    size: int
    resources: int
    offline_s: float
    load_s: float
    peak_mib: float
    grpc_s: float
    grpc_measured: int
    grpc_analyzed: int

    @property
    def offline_us(self) -> float:
        return self.offline_s / self.resources * 1e6

    @property
    def grpc_us(self) -> float:
        return self.grpc_s / self.resources * 1e6

    @property
    def ratio(self) -> float:
        return self.grpc_s / self.offline_s if self.offline_s else float("inf")

    @property
    def grpc_note(self) -> str:
        if self.grpc_measured >= self.grpc_analyzed:
            return "measured"
        return f"{self.grpc_measured:,} measured, x{self.grpc_analyzed / self.grpc_measured:.0f}"


def table(rows: list[Row]) -> str:
    lines = [
        "| mix | resources | offline s | of which reading | offline us/res | peak MiB | gRPC s | gRPC us/res "
        "| gRPC path | gRPC / offline |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row.mix} | {row.resources:,} | {row.offline_s:.2f} | {row.load_s:.2f} | {row.offline_us:.0f} "
            f"| {row.peak_mib:,.0f} | {row.grpc_s:.1f} | {row.grpc_us:.0f} | {row.grpc_note} | {row.ratio:.0f}x |"
        )
    return "\n".join(lines)


def flatness(rows: list[Row]) -> list[str]:
    """Per mix: the per-resource cost at the largest size over the smallest's."""
    notes = []
    for mix in dict.fromkeys(r.mix for r in rows):
        mine = sorted((r for r in rows if r.mix == mix), key=lambda r: r.resources)
        if len(mine) > 1:
            notes.append(f"{mix}: {mine[-1].offline_us / mine[0].offline_us:.2f}x per resource from "
                         f"{mine[0].resources:,} to {mine[-1].resources:,}")
    return notes


def plot(rows: list[Row], path: Path, machine: str) -> Path | None:
    """Microseconds per resource against resources, offline and gRPC, one colour per mix."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
    for index, mix in enumerate(dict.fromkeys(r.mix for r in rows)):
        mine = sorted((r for r in rows if r.mix == mix), key=lambda r: r.resources)
        sizes = [r.resources for r in mine]
        colour = f"C{index}"
        axes.plot(sizes, [r.offline_us for r in mine], "o-", color=colour, label=f"{mix}, offline")
        axes.plot(sizes, [r.grpc_us for r in mine], "s--", color=colour, alpha=0.6, label=f"{mix}, gRPC")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("resources in the export")
    axes.set_ylabel("microseconds per resource")
    axes.set_title("Policy evaluation: offline runner vs the pack served over gRPC", fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    figure.text(0.01, 0.01, machine, fontsize=6, alpha=0.7)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
