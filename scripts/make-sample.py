"""Regenerates Fixtures/sample/wordnet-sample.jsonl from ../shared/bench (first 300 documents)."""
import base64
import json
import pathlib

import numpy as np

repo = pathlib.Path(__file__).resolve().parent.parent
bench = repo.parent / "shared" / "bench"
base = np.fromfile(bench / "base.f16", dtype=np.float16).reshape(-1, 384)
with open(bench / "docs.jsonl") as docs, open(repo / "Fixtures/sample/wordnet-sample.jsonl", "w") as out:
    for i, line in enumerate(docs):
        if i >= 300:
            break
        d = json.loads(line)
        vector = base[d["id"]].astype("<f4")
        row = {"id": d["id"], "vector": base64.b64encode(vector.tobytes()).decode(), "text": d["text"],
               "pos": d["pos"], "lexname": d["lexname"], "n_words": d["n_words"]}
        out.write(json.dumps(row) + "\n")
