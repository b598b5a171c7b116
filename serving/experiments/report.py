"""`segue experiment report`: a per-arm table and a PNG from an experiment summary
(the JSON of GET /v1/experiments/{id})."""

from __future__ import annotations

from pathlib import Path


def _pct(x) -> str:
    return "   n/a" if x is None else f"{100 * x:6.2f}%"


def _ci(ci) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "[   n/a ,    n/a ]"
    return f"[{100 * ci[0]:6.2f}%, {100 * ci[1]:6.2f}%]"


def format_table(summary: dict) -> str:
    arms = summary.get("arms", {})
    control = summary.get("control")
    lines = [
        f"experiment {summary.get('experiment_id')}  (control: {control}; weights: {summary.get('weights')})",
        f"{'arm':<12} {'assigned':>8} {'served':>7} {'err%':>7} {'like rate':>9} {'95% CI':>19} "
        f"{'conversion':>10} {'95% CI':>19} {'p99 ms':>7} {'fallback':>8}",
    ]
    for name, a in arms.items():
        lr, cv = a.get("like_rate") or {}, a.get("conversion") or {}
        p99 = a.get("latency_p99_ms")
        lines.append(
            f"{name:<12} {a.get('assigned', 0):>8} {a.get('served', 0):>7} {_pct(a.get('error_rate')):>7} "
            f"{_pct(lr.get('rate')):>9} {_ci(lr.get('ci')):>19} {_pct(cv.get('rate')):>10} {_ci(cv.get('ci')):>19} "
            f"{'n/a' if p99 is None else f'{p99:.0f}':>7} {_pct(a.get('intent_fallback_rate')):>8}"
        )
    srm = summary.get("srm") or {}
    chi2 = srm.get("chi2")
    lines.append(f"SRM: chi2={'n/a' if chi2 is None else f'{chi2:.3f}'} dof={srm.get('dof')} p={srm.get('p_value', 1.0):.3g} -> "
                 f"{'MISMATCH (do not trust the arms)' if srm.get('mismatch') else 'ok'} (alpha 0.001)")
    for name, cmp in (summary.get("comparisons") or {}).items():
        for metric, r in cmp.items():
            verdict = "n/a"
            lo, hi = (r.get("ci") or [None, None])
            if lo is not None and lo > 0:
                verdict = "significantly better"
            elif hi is not None and hi < 0:
                verdict = "significantly worse"
            elif lo is not None:
                verdict = "no significant difference"
            lines.append(f"{name} vs {control} on {metric}: diff {100 * r['diff']:+.2f} pts, always-valid CI "
                         f"{_ci(r.get('ci'))}, p={r['p_value']:.3g} -> {verdict} (alpha {summary.get('alpha', 0.05)})")
    if summary.get("shadow"):
        lines.append(f"shadow: {summary['shadow']}")
    return "\n".join(lines)


def write_png(summary: dict, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = summary.get("arms", {})
    names = list(arms)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    panels = [("like_rate", "like rate (likes / tracks)"), ("conversion", "playlists with a like or save")]
    for ax, (key, title) in zip(axes[:2], panels):
        rates = [((arms[n].get(key) or {}).get("rate") or 0.0) * 100 for n in names]
        cis = [(arms[n].get(key) or {}).get("ci") or [0, 0] for n in names]
        lo = [max(0.0, r - 100 * (c[0] or 0)) for r, c in zip(rates, cis)]
        hi = [max(0.0, 100 * (c[1] or 0) - r) for r, c in zip(rates, cis)]
        ax.bar(names, rates, yerr=[lo, hi], capsize=6, color=["#4C72B0", "#DD8452", "#55A868", "#C44E52"][: len(names)])
        ax.set_title(f"{title}, 95% CI")
        ax.set_ylabel("%")
    served = [arms[n].get("assigned", 0) for n in names]
    axes[2].bar(names, served, color="#8172B2")
    srm = summary.get("srm") or {}
    axes[2].set_title(f"assigned listeners (SRM p={srm.get('p_value', 1.0):.2g})")
    fig.suptitle(f"experiment {summary.get('experiment_id')}")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
