"""`make demo`, bank half: a small generated day scored in batch, from C++ and from Python.

    python examples/bank/demo.py prepare DIR   # writes DIR/day.jsonl and DIR/customers.jsonl
    build/examples/bank/bank_batch --fraud-model ... --transactions DIR/day.jsonl ...
    python examples/bank/demo.py score DIR     # the same files, scored from Python

``prepare`` generates three weeks of 800 customers (seed 7, not the training seed), computes
the features by the one definition (bank/features.py), and writes one day's transactions
(the generator's fields plus the fraud model's inputs) and every customer's segment inputs as
JSON Lines. The day is the one after the two weeks of warm-up with the most labelled fraud.
Both scorers read only these files and the shipped model files.
"""
import argparse
import json
import pathlib
import sys

import pandas as pd

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bank import features as F  # noqa: E402
from bank import generate  # noqa: E402

MODELS = HERE.parent / "models"


def prepare(out, customers=800, days=21, seed=7):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = generate.generate(customers, days, seed=seed)
    X = F.fraud_features(frame)
    # the day shown: after two weeks of history, the one with the most fraud (a demo should
    # show alerts with their patterns; the latest such day on a tie)
    late = frame[frame["data"] >= sorted(frame["data"].unique())[min(14, days - 1)]]
    counts = late.groupby("data")["fraude"].sum()
    shown = counts[counts == counts.max()].index.max()
    last = frame["data"] == shown
    day = pd.concat([frame[last], X[last].drop(columns=["transacao", "categoria_transacao", "metodo_pagamento",
                                                        "valor_transacao"])], axis=1)
    _write_jsonl(day, out / "day.jsonl")
    S = F.segment_features(frame).reset_index()
    _write_jsonl(S, out / "customers.jsonl")
    print(f"wrote {out / 'day.jsonl'} ({last.sum():,} transactions of {shown}, "
          f"{int(frame[last]['fraude'].sum())} labelled fraudulent) and {out / 'customers.jsonl'} ({len(S):,} customers)")


def _write_jsonl(frame, path):
    with open(path, "w", encoding="utf-8") as handle:
        for record in generate.records(frame):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def score(folder, top=10):
    import floresta

    folder = pathlib.Path(folder)
    fraud = floresta.load(MODELS / "bank_fraud.json")
    segments = floresta.load(MODELS / "bank_segments.json")
    day = pd.read_json(folder / "day.jsonl", lines=True, dtype={"id_dispositivo": str, "id_beneficiario": str})
    threshold = fraud.metadata.get("alert_threshold")
    if not isinstance(threshold, (int, float)):
        raise SystemExit(f"{MODELS / 'bank_fraud.json'}: the model file's metadata has no numeric alert_threshold")
    p = fraud.predict_proba(day)[:, 1]  # columns matched by name; strings encoded by the file's vocabularies
    alerts = day.assign(p=p)[p > threshold].sort_values("p", ascending=False)
    print(f"Python: {len(day):,} transactions, {len(alerts)} alerts above {threshold:.6f} "
          f"({fraud.metadata['alert_budget']:.1%} budget)")
    shown = alerts.head(top)[["id_transacao", "id_cliente", "horario", "transacao", "valor_transacao", "p",
                              "padrao_fraude"]]
    print(shown.assign(padrao_fraude=shown["padrao_fraude"].replace("", "(honest)")).to_string(index=False))
    labelled = day[day["fraude"] == 1]
    caught = labelled["id_transacao"].isin(alerts["id_transacao"])
    for pattern, hits in caught.groupby(labelled["padrao_fraude"]):
        print(f"  {pattern:18s} {int(hits.sum())} of {len(hits)} fraudulent transactions alerted")

    customers = pd.read_json(folder / "customers.jsonl", lines=True)
    names = segments.cluster_names_
    sizes = pd.Series(segments.predict(customers)).value_counts().reindex(range(len(names)), fill_value=0)
    print(f"\nPython: {len(customers):,} customers segmented")
    for k, name in enumerate(names):
        print(f"  {k}  {name:34s} {sizes[k]:6d} customers")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["prepare", "score"])
    parser.add_argument("folder")
    args = parser.parse_args(argv)
    (prepare if args.step == "prepare" else score)(args.folder)


if __name__ == "__main__":
    main()
