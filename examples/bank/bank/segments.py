"""The customers' segment table: each customer's segment by the shipped segmentation model, as
the nightly job writes it for the stream scorer (`bank_stream_scorer --segments FILE`).

    python -m bank.segments --jsonl transactions/ --out segments.jsonl       # from JSON Lines
    table = assign(frame)                                                     # from a DataFrame

One JSON object a line: {"id_cliente", "segment_id", "segment_name"}, by customer id. The
segment inputs are features.segment_features over the 56 days before ``end`` (default: just
after the last transaction); the segment is floresta's k-means assignment and its name the one
the model file carries.
"""
import argparse
import json
import pathlib

import pandas as pd

from . import features as F

MODELS = pathlib.Path(__file__).resolve().parents[2] / "models"


def assign(frame, model_path=MODELS / "bank_segments.json", end=None):
    import floresta

    model = floresta.load(model_path)
    S = F.segment_features(frame, end=end)
    ids = model.predict(S)
    names = model.cluster_names_
    return pd.DataFrame({"id_cliente": S.index.astype(str), "segment_id": ids.astype(int),
                         "segment_name": [names[k] for k in ids]})


def write(table, path):
    with open(path, "w", encoding="utf-8") as handle:
        for row in table.itertuples(index=False):
            handle.write(json.dumps({"id_cliente": row.id_cliente, "segment_id": int(row.segment_id),
                                     "segment_name": row.segment_name}, ensure_ascii=False) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bank.segments", description=__doc__.split("\n")[0])
    parser.add_argument("--jsonl", required=True, help="transactions: a JSON Lines file or a partitioned directory")
    parser.add_argument("--model", default=str(MODELS / "bank_segments.json"))
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    frame = pd.DataFrame(F.read_jsonl(args.jsonl))
    table = assign(frame, args.model)
    write(table, args.out)
    print(f"wrote {len(table):,} customers' segments to {args.out}")


if __name__ == "__main__":
    main()
