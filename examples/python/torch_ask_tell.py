"""The loop of digits_ask_tell.py around a PyTorch model (on the GPU when there is one).

emprox proposes, PyTorch trains, emprox journals; --resume continues a killed script with the
same next proposals. Needs torch (`pip install torch`); the pytest suite runs it with
$EMPROX_TORCH_PYTHON (CI's environment with torch) or where torch is installed.

    python examples/python/torch_ask_tell.py --out runs/digits-torch [--resume]
"""

import torch
from torch import nn

from digits_ask_tell import main


def train(cfg, x, y, seed, epochs=20):
    """An MLP of ``cfg`` trained with SGD: (validation accuracy, test accuracy) in %."""
    torch.manual_seed(seed % 2**63)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    act = nn.Tanh if cfg["activation"] == "tanh" else nn.ReLU
    layers, width = [], 64
    for _ in range(int(cfg["depth"])):
        layers += [nn.Linear(width, int(cfg["width"])), act()]
        width = int(cfg["width"])
    model = nn.Sequential(*layers, nn.Linear(width, 10)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=float(cfg["lr"]))
    xt = torch.tensor(x, dtype=torch.float32, device=device)
    yt = torch.tensor(y, dtype=torch.long, device=device)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0)).to(device)
    tr, va, te = order[:1200], order[1200:1500], order[1500:]
    for _ in range(epochs):
        for batch in tr[torch.randperm(len(tr), device=device)].split(32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[batch]), yt[batch]).backward()
            opt.step()
    with torch.no_grad():
        acc = lambda i: 100.0 * (model(xt[i]).argmax(1) == yt[i]).float().mean().item()  # noqa: E731
        return acc(va), acc(te)


if __name__ == "__main__":
    main(train, "runs/digits-torch")
