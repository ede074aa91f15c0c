"""A template: trains a NAS-Bench-201-style network in PyTorch (on the GPU when there is one)
for emprox's command evaluator: `command = ["python3", "train_torch.py", "--spec", "{spec}"]`.
Replace `data`."""
import json, sys, time, torch, torch.nn as nn, torch.nn.functional as F
spec = json.load(open(sys.argv[sys.argv.index("--spec") + 1]))
start, dev, _ = time.time(), "cuda" if torch.cuda.is_available() else "cpu", torch.manual_seed(spec["seed"])
def op(name, c):  # NAS-Bench-201's operations
    conv = lambda k: nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, k, 1, k // 2, bias=False), nn.BatchNorm2d(c))
    return {"skip_connect": nn.Identity, "avg_pool_3x3": lambda: nn.AvgPool2d(3, 1, 1),
            "nor_conv_1x1": lambda: conv(1), "nor_conv_3x3": lambda: conv(3)}[name]()
class Cell(nn.Module):  # node j = the sum of op(node i) over its edges "j<-i" that are not "none"
    def __init__(self, c):
        super().__init__()
        edges = zip(spec["dimensions"], spec["values"])
        self.ops = nn.ModuleDict({e.replace("<-", "_"): op(o, c) for e, o in edges if o != "none"})
    def forward(self, x):
        nodes = [x]
        for j in "123":
            ins = [m(nodes[int(e[2])]) for e, m in self.ops.items() if e[0] == j]
            nodes.append(sum(ins, torch.zeros_like(x)))
        return nodes[3]
def stage(c_in, c, n=3):  # the stem or a reduction, then n cells
    return [nn.Conv2d(c_in, c, 3, 1 if c_in == 3 else 2, 1, bias=False), nn.BatchNorm2d(c), *(Cell(c) for _ in range(n))]
model = nn.Sequential(*stage(3, 16), *stage(16, 32), *stage(32, 64), nn.ReLU(),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)).to(dev)
def data():  # replace with your (images, labels) for training, validation and test
    x, y = torch.randn(3000, 3, 32, 32), torch.randint(0, 10, (3000,))
    return (x[:2000], y[:2000]), (x[2000:2500], y[2000:2500]), (x[2500:], y[2500:])
(xt, yt), val, test = data()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
for epoch in range(10):
    for i in torch.randperm(len(xt)).split(128):
        opt.zero_grad(); F.cross_entropy(model(xt[i].to(dev)), yt[i].to(dev)).backward(); opt.step()
model.eval()
with torch.no_grad():
    acc = lambda x, y: 100.0 * (model(x.to(dev)).argmax(1) == y.to(dev)).float().mean().item()
    print(json.dumps({"val_acc": acc(*val), "test_acc": acc(*test), "cost_seconds": time.time() - start}))
