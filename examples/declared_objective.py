"""A synthetic objective for examples/declared_command.toml: a deterministic score from the
member's values (no training). Reads {values_json} (argv[1]) and the spec file (--spec), checks
that they agree, and prints {"val_acc": ..., "test_acc": ...}."""
import json, math, sys

values = json.loads(sys.argv[1])
spec = json.load(open(sys.argv[sys.argv.index("--spec") + 1]))
assert list(values) == spec["dimensions"], (values, spec)
assert [str(v) for v in values.values()] == spec["values"], (values, spec)

depth = values["depth"]
widths = [values[k] for k in ("width[0]", "width[1]", "width3", "width4") if k in values]
assert len(widths) == depth, f"depth {depth} with widths {widths}"
edges = {k: v for k, v in values.items() if k.startswith("cell[")}
convs = sum(v == "conv" for v in edges.values())
skips = sum(v == "skip_connect" for v in edges.values())
lr_term = -abs(math.log10(values["lr"]) + 2.0)  # best at lr = 0.01
score = 60 + 4 * depth + sum(widths) / 16 + 2.5 * convs + 1.0 * skips + 3 * lr_term
val = round(min(score, 99.0), 4)
print(json.dumps({"val_acc": val, "test_acc": round(val - 0.5, 4)}))
