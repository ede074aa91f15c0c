"""The network emprox found, as a self-contained PyTorch module (no emprox import).

The NAS-Bench-201 macro skeleton around the searched cell, with the parameter names of emprox's
candle network, so that

    import torch, safetensors.torch
    from model import build
    model = build()
    model.load_state_dict(safetensors.torch.load_file("weights.safetensors"))
    model.eval()

gives emprox's network. Images are prepared as preprocess.json says: values in [0, 1], C×H×W,
minus `mean` and divided by `std` per channel. `python model.py --check` compares this module's
logits with candle's on the validation images stored in check.safetensors.
"""
import torch
from torch import nn

# What emprox exported: the cell (one op per edge to <- from, in emprox's edge order) and the
# network's size.
SPEC = {{SPEC}}


class ReLUConvBN(nn.Module):
    """ReLU, a k×k convolution without bias (padding k // 2), batch norm."""

    def __init__(self, c_in, c_out, k, stride):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return self.bn(self.conv(torch.relu(x)))


class Cell(nn.Module):
    """Node i is the sum of op(node j) over its edges j -> i; the output is the last node.
    A node no edge reaches is zero (a convolution of it still adds its batch norm's shift)."""

    def __init__(self, nodes, edges, channels):
        super().__init__()
        self.nodes = nodes
        self.edges = [(op, to, frm) for op, to, frm in edges]
        for op, to, frm in self.edges:
            if op == "nor_conv_3x3":
                setattr(self, f"edge{to}{frm}", ReLUConvBN(channels, channels, 3, 1))
            elif op == "nor_conv_1x1":
                setattr(self, f"edge{to}{frm}", ReLUConvBN(channels, channels, 1, 1))
        self.pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x):
        nodes = [x]
        for to in range(1, self.nodes):
            acc = torch.zeros_like(x)
            for op, t, frm in self.edges:
                if t != to or op == "none":
                    continue
                h = nodes[frm]
                if op == "skip_connect":
                    acc = acc + h
                elif op == "avg_pool_3x3":
                    acc = acc + self.pool(h)
                else:
                    acc = acc + getattr(self, f"edge{to}{frm}")(h)
            nodes.append(acc)
        return nodes[-1]


class Reduction(nn.Module):
    """NAS-Bench-201's residual block: halves the resolution, c_in -> c_out channels."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.downsample(nn.functional.avg_pool2d(x, 2))


class Stem(nn.Module):
    def __init__(self, c_in, c):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return self.bn(self.conv(x))


class LastAct(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(self.bn(x))


class Network(nn.Module):
    """Stem; three stages of N cells on C, 2C, 4C channels with a reduction between them;
    batch norm, ReLU, global average pooling and a linear classifier."""

    def __init__(self, spec=SPEC):
        super().__init__()
        c, n = spec["channels"], spec["cells_per_stage"]
        self.stem = Stem(spec["in_channels"], c)
        self.order = []
        c_prev = c
        for stage in range(3):
            c_stage = c << stage
            if stage > 0:
                setattr(self, f"reduce{stage}", Reduction(c_prev, c_stage))
                self.order.append(f"reduce{stage}")
            block = nn.Module()
            for i in range(n):
                setattr(block, f"cell{i}", Cell(spec["nodes"], spec["edges"], c_stage))
            setattr(self, f"stage{stage}", block)
            self.order += [f"stage{stage}.cell{i}" for i in range(n)]
            c_prev = c_stage
        self.lastact = LastAct(c_prev)
        self.classifier = nn.Linear(c_prev, spec["classes"])

    def forward(self, x):
        h = self.stem(x)
        for name in self.order:
            h = self.get_submodule(name)(h)
        return self.classifier(self.lastact(h).mean((2, 3)))


def build():
    """The network of SPEC, untrained (load weights.safetensors into it)."""
    return Network(SPEC)


if __name__ == "__main__":
    import pathlib
    import sys

    from safetensors.torch import load_file

    here = pathlib.Path(__file__).parent
    model = build()
    model.load_state_dict(load_file(str(here / "weights.safetensors")))
    model.eval()
    if "--check" in sys.argv:
        check = load_file(str(here / "check.safetensors"))
        with torch.no_grad():
            got = model(check["images"])
        diff = (got - check["logits"]).abs().max().item()
        print(f"largest difference from emprox's logits on {len(got)} validation images: {diff:.2e}")
        sys.exit(0 if diff <= 1e-4 else 1)
    print(model)
