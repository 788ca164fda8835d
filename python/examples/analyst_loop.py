"""The data scientist's loop with loglynx, end to end.

Read a quiet week, train a baseline on it, inspect the model card, score an
attack day, plot the score distribution with each kind's threshold, and look
at the top alerts.

    python examples/analyst_loop.py QUIET_LOGS ATTACK_LOGS --year 2026 --out out/

(`.ci/run` runs it on logs from `loglynx-gen`: a `--no-attacks` week and
the two days after it.) The plot needs matplotlib; without it the
distribution is printed as a table.
"""

import argparse
import pathlib

import polars as pl

import loglynx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("quiet", help="logs of a quiet period (files, directories, globs)")
    parser.add_argument("attack", help="logs to score")
    parser.add_argument("--year", type=int, help="year of RFC 3164 syslog lines")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("loglynx-out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    # 1. A quiet week: what is in it.
    events = loglynx.read_events(args.quiet, year=args.year)
    print(f"{events.height} events from {events['host.name'].n_unique()} hosts")
    print(events.group_by("event.action", "event.outcome").len().sort("len", descending=True).head(8))

    # 2. Train on it, and keep the bundle loglynx-score reads.
    baseline = loglynx.train(args.quiet, year=args.year, seed=args.seed)
    baseline.save(args.out / "baseline.llx")

    # 3. The model card: rows, features and the threshold of each kind.
    card = baseline.card()
    thresholds = {}
    for s in card["sets"]:
        thresholds[s["entity_kind"]] = s["calibration"]["threshold"]
        print(
            f"{s['entity_kind']:>9}: {s['rows']} windows, {len(s['features'])} features, "
            f"threshold {s['calibration']['threshold']:.4f} "
            f"(flags {s['calibration']['baseline_alert_rate']:.2%} of the baseline)"
        )

    # 4. Score the attack day: every entity-window.
    rows = loglynx.features(args.attack, year=args.year)
    scores = baseline.score(rows)
    print(scores.group_by("entity_kind").agg(pl.len(), pl.col("is_anomaly").sum()).sort("entity_kind"))

    # 5. The score distribution against each kind's threshold.
    plot(scores, thresholds, args.out / "scores.png")

    # 6. The top alerts: rules and the baseline's evidence, merged.
    alerts = loglynx.alerts(args.attack, baseline=baseline, year=args.year)
    print(f"{len(alerts)} alerts; the first five:")
    for a in alerts[:5]:
        print(f"  [{a['severity']:>8}] {a['risk_score']:>3} {a['title']}")
        print(f"           {a['recommended_action']}")
    pl.DataFrame(
        [{k: a[k] for k in ("id", "severity", "risk_score", "title", "first_seen")} for a in alerts]
    ).write_csv(args.out / "alerts.csv")


def plot(scores: pl.DataFrame, thresholds: dict, path: pathlib.Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: the distribution as a table")
        print(
            scores.with_columns((pl.col("score") * 20).floor().alias("bin"))
            .group_by("entity_kind", "bin")
            .len()
            .sort("entity_kind", "bin")
        )
        return
    kinds = sorted(thresholds)
    fig, axes = plt.subplots(1, len(kinds), figsize=(4 * len(kinds), 3), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        values = scores.filter(pl.col("entity_kind") == kind)["score"].to_list()
        ax.hist(values, bins=50, log=True)
        ax.axvline(thresholds[kind], color="red", linestyle="--", label="threshold")
        ax.set_title(kind)
        ax.set_xlabel("score")
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path)
    print(f"score distribution: {path}")


if __name__ == "__main__":
    main()
