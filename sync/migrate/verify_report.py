"""The reconciliation report of `crm2 migrate verify`, as text and as one self-contained HTML file.

Both show, per object, ``source = loaded + merged + quarantined + deleted + erased`` and what is
unexplained, changed since load, mismatched in the field sample, and gone from source — naming
records by reference (system/object/id) and fields by name, never by value. The HTML file uses
the stylesheet of ``crm2 report`` and needs nothing from anywhere, so it can be signed off,
mailed and archived with the migration.
"""

from __future__ import annotations

import html

from sync.migrate.verify import Named, ObjectCheck, VerifyReport
from sync.report import CSS

_COLUMNS = ("source", "loaded", "merged", "quarantined", "deleted", "erased", "unexplained", "changed",
            "sampled", "mismatched", "gone")


def _row_values(o: ObjectCheck) -> list[int]:
    return [o.source_count, o.loaded, o.merged, o.quarantined, o.deleted, o.erased, o.unexplained, o.changed,
            o.sampled, o.mismatched, o.gone]


def verdict(report: VerifyReport) -> str:
    if report.ok:
        extra = f"; {report.changed:,} changed since load (run cutover)" if report.changed else ""
        return f"OK: every source record is accounted for and the field sample matches{extra}"
    parts = []
    if report.unexplained:
        parts.append(f"{report.unexplained:,} unexplained records")
    if report.mismatched:
        parts.append(f"{report.mismatched:,} records whose fields differ")
    return "FAILED: " + " and ".join(parts)


def text_lines(report: VerifyReport) -> list[str]:
    out = [f"crm2 migrate verify — {', '.join(report.sources)} — {report.generated_at:%Y-%m-%d %H:%M UTC}"]
    head = f"{'object':<34}" + "".join(f"{c:>12}" for c in _COLUMNS)
    out += [head, "-" * len(head)]
    for o in report.objects:
        out.append(f"{o.source + '/' + o.name:<34}" + "".join(f"{v:>12,}" for v in _row_values(o)))
    for u in report.unmapped:
        held = f", {u.quarantined:,} held in quarantine" if u.quarantined else ""
        out.append(f"{u.source}/{u.stream}: {u.records:,} records in a stream the mapping does not read "
                   f"(not migrated{held}; the archive keeps them)")
    for o in report.objects:
        ref = f"{o.source}/{o.name}"
        out += [f"unexplained {n.ref}: {n.why}" for n in o.unexplained_refs]
        out += [f"mismatch {n.ref}: {n.why}" for n in o.mismatches]
        out += [f"changed since load {r} (run cutover)" for r in o.changed_refs]
        out += [f"in crm2, gone from source {r}" for r in o.gone_refs]
        for what, count, shown in (("unexplained", o.unexplained, o.unexplained_refs),
                                   ("mismatched", o.mismatched, o.mismatches),
                                   ("changed", o.changed, o.changed_refs), ("gone", o.gone, o.gone_refs)):
            if count > len(shown):
                out.append(f"... {ref}: {count - len(shown):,} more {what} (see --json)")
    out.append(verdict(report))
    return out


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _named_list(title: str, items: list[Named] | list[str], total: int) -> str:
    if not items:
        return ""
    rows = "".join(f"<li><code>{_esc(i.ref)}</code> — {_esc(i.why)}</li>" if isinstance(i, Named)
                   else f"<li><code>{_esc(i)}</code></li>" for i in items)
    more = f"<li>… {total - len(items):,} more</li>" if total > len(items) else ""
    return f"<details><summary>{_esc(title)} ({total:,})</summary><ul>{rows}{more}</ul></details>"


_EXTRA_CSS = """
.ok{color:#16a34a}.bad{color:#dc2626}.verdict{font-size:1.1rem;font-weight:600}
td.bad{background:#fef2f2}details{margin:.3rem 0}code{font-size:12px}
"""


def render_html(report: VerifyReport) -> str:
    stamp = report.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    head = "".join(f"<th>{c}</th>" for c in ("object", *_COLUMNS))
    body = []
    for o in report.objects:
        cells = []
        for name, value in zip(_COLUMNS, _row_values(o), strict=True):
            bad = name in ("unexplained", "mismatched") and value
            cells.append(f'<td class="num{" bad" if bad else ""}">{value:,}</td>')
        mark = '<span class="ok">✓</span>' if o.adds_up and not o.mismatched else '<span class="bad">✗</span>'
        body.append(f"<tr><td>{mark} {_esc(o.source)}/{_esc(o.name)}</td>{''.join(cells)}</tr>")
    details = []
    for o in report.objects:
        ref = f"{o.source}/{o.name}"
        details += [_named_list(f"{ref}: unexplained", o.unexplained_refs, o.unexplained),
                    _named_list(f"{ref}: field mismatches", o.mismatches, o.mismatched),
                    _named_list(f"{ref}: changed since load (run cutover)", o.changed_refs, o.changed),
                    _named_list(f"{ref}: in crm2, gone from source", o.gone_refs, o.gone)]
    unmapped = "".join(f"<li>{_esc(u.source)}/{_esc(u.stream)}: {u.records:,} records, not mapped"
                       f"{f' ({u.quarantined:,} held in quarantine)' if u.quarantined else ''}</li>"
                       for u in report.unmapped)
    cls = "ok" if report.ok else "bad"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>crm2 migration reconciliation — {stamp}</title><style>{CSS}{_EXTRA_CSS}</style></head><body>"
        f"<h1>Migration reconciliation</h1><p class=\"sub\">sources: {_esc(', '.join(report.sources))} · "
        f"field sample: up to {report.sample_size:,} records per object · generated {stamp}"
        f"{f' · verify run {_esc(report.run_id)}' if report.run_id else ''}</p>"
        f'<p class="verdict {cls}" id="verdict">{_esc(verdict(report))}</p>'
        "<p>Per object: source = loaded + merged + quarantined + deleted + erased + unexplained. "
        "Records are named by reference, fields by name; no values are shown.</p>"
        f'<table id="reconciliation"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        + (f"<h2>Streams not mapped</h2><ul>{unmapped}</ul>" if unmapped else "")
        + f"<h2>Details</h2>{''.join(details) or '<p class=none>Nothing to list.</p>'}</body></html>"
    )
