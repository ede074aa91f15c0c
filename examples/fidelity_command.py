#!/usr/bin/env python3
"""A stand-in for a training script that a multi-fidelity search runs at several fidelities.

    fidelity_command.py ARCH FIDELITY CHECKPOINT_DIR

It "trains" ARCH for FIDELITY epochs: each epoch moves a score towards the cell's own ceiling
(a deterministic function of the architecture string). When CHECKPOINT_DIR holds a checkpoint
of fewer epochs (a lower rung of the same cell), it continues from there instead of starting
again, and says so on stderr; it then writes its own checkpoint (atomically: a temporary file
renamed over the old one). Resuming gives exactly what training in one go gives. It prints the
result line emprox reads: {"val_acc": ..., "test_acc": ..., "epochs_trained_now": ...}.
Used by examples/command_fidelity_sh.toml.
"""
import hashlib
import json
import os
import sys

arch, fidelity, ckpt_dir = sys.argv[1], int(float(sys.argv[2])), sys.argv[3]
digest = hashlib.sha256(arch.encode()).digest()
ceiling = 80.0 + 15.0 * digest[0] / 255.0      # what the cell reaches after long training
speed = 0.1 + 0.4 * digest[1] / 255.0          # how fast it gets there

path = os.path.join(ckpt_dir, "state.json")
state = {"epochs": 0, "score": 10.0}
if os.path.exists(path):
    with open(path) as f:
        saved = json.load(f)
    if saved["epochs"] < fidelity:
        state = saved
        print(f"continuing from epoch {state['epochs']}", file=sys.stderr)
start = state["epochs"]
for _ in range(start, fidelity):
    state["score"] += speed * (ceiling - state["score"])
    state["epochs"] += 1
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(state, f)
os.replace(tmp, path)
print(json.dumps({"val_acc": round(state["score"], 6), "test_acc": round(state["score"] - 0.5, 6),
                  "epochs_trained_now": fidelity - start}))
