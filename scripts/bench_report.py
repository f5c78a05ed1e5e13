"""Rewrite README.md's performance table from ``bench.json`` (written by ``scripts/bench.py``).

The table sits between two marker comments in README.md; everything outside them is left as it
is. Each row of the JSON carries its goal as a number (``limit``, and whether ``lower`` or
``higher`` is better), so the verdict, and by how much a goal was missed, is computed here rather
than copied by hand.

    .venv/bin/python scripts/bench_report.py [bench.json] [README.md]
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BEGIN = "<!-- bench-table:begin (scripts/bench_report.py writes this table from bench.json) -->"
END = "<!-- bench-table:end -->"


def verdict(row):
    """"met", "missed by ...", "reference" (no goal) or why there is no figure."""
    if row.get("value") is None:
        return f"not measured: {row.get('error') or 'no figure'}"
    value, limit = row["value"], row.get("limit")
    if limit is None:
        return "reference"
    higher = row.get("better") == "higher"
    if (value >= limit) if higher else (value <= limit):
        return "met"
    unit = row.get("unit", "")
    if limit == 0 or unit == "requests":  # a count: say how many too many, not a percentage
        return f"missed by {abs(value - limit):g} {unit}".rstrip()
    return f"missed by {abs(value / limit - 1):.0%}"


def table(results):
    """The Markdown table (and the line saying where and when it was measured)."""
    lines = [f"Measured by `make bench` on {results['machine']}, {results['generated']} "
             f"({results['seconds']:.0f} s in all).", "",
             "| what | goal | measured | verdict |", "|---|---|---|---|"]
    for row in results["rows"]:
        cells = (row["what"], row.get("goal") or "—", row.get("measured") or "—", verdict(row))
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def rewrite(text, new_table):
    """``text`` with the lines between the markers replaced by ``new_table``."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no '{BEGIN}' ... '{END}' pair to write the table between")
    return text[:start + len(BEGIN)] + "\n" + new_table + "\n" + text[end:]


def main(argv):
    source = Path(argv[0]) if argv else ROOT / "bench.json"
    readme = Path(argv[1]) if len(argv) > 1 else ROOT / "README.md"
    try:
        results = json.loads(source.read_text(encoding="utf-8"))
        text = rewrite(readme.read_text(encoding="utf-8"), table(results))
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"bench_report: cannot write the table from {source} into {readme}: {exc} "
                 "(run `make bench` first; keep both markers in README.md)")
    from azext_entracert.core.fileio import atomic_write

    atomic_write(readme, text.encode("utf-8"), overwrite=True)
    print(f"{readme.name}: performance table rewritten from {source.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
