"""The essay's code, reconstructed verbatim (its indentation was lost in the text).

Reference only: tests check that `chaos_models.models` reproduces these classes bit for bit, and the
benchmark times them side by side. Not for export: ModelSynth here works at batch 1 only
(`buffer[:, 0]`) and the methods return [B, T] instead of nn~'s [B, 1, T].
"""

import torch


class ModelSynth(torch.nn.Module):
    def __init__(self, operators=7, w_mult=1, kernel=1):
        super().__init__()
        self.conv_in = torch.nn.Conv1d(1, operators, kernel_size=kernel)
        self.conv = torch.nn.Conv1d(operators, operators, kernel_size=kernel)
        self.conv_out = torch.nn.Conv1d(operators, 1, kernel_size=kernel)
        for l in [self.conv_in, self.conv, self.conv_out]:
            l.weight = torch.nn.Parameter(l.weight * w_mult)

    @torch.jit.export
    def forward(self, buffer):
        x = buffer[:, 0]
        mod1 = buffer[:, 1]
        mod2 = buffer[:, 2]
        y = self.conv_in(x)
        y = self.conv(y)
        y = torch.sin(y * torch.pi * mod1)
        y = 1 - torch.tanh(abs(y) * mod2)
        y = self.conv_out(y)
        return y


class ChaosEffect(torch.nn.Module):
    def __init__(self, operators=4, w_mult=1, kernel=1):
        super().__init__()
        self.operators = operators
        self.w_mult = w_mult
        # Convolutional layers (kernel=1 means no time context, just per-sample)
        self.conv_in = torch.nn.Conv1d(1, operators, kernel_size=kernel)
        self.conv = torch.nn.Conv1d(operators, operators, kernel_size=kernel)
        self.conv_out = torch.nn.Conv1d(operators, 1, kernel_size=kernel)
        # An extra conv for chaos mode (kernel=5 introduces temporal context)
        self.conv_chaos = torch.nn.Conv1d(operators, operators, kernel_size=5, padding=2)
        # Scale weights by w_mult (no training, so this is a manual tweak)
        for layer in [self.conv_in, self.conv, self.conv_out, self.conv_chaos]:
            with torch.no_grad():
                layer.weight *= w_mult

    @torch.jit.export
    def forward(self, buffer):
        x = buffer[:, 0:1]  # main audio input
        mod1 = buffer[:, 1:2]  # first modulator input
        mod2 = buffer[:, 2:3]  # second modulator input
        y = self.conv_in(x)
        y = self.conv(y)
        # Nonlinear transformations:
        y = torch.sin(y * torch.pi * mod1)
        y = 1 - torch.tanh(torch.abs(y) * mod2)
        y = self.conv_out(y)
        y = y / (self.operators * self.w_mult)
        return y.squeeze(1)

    @torch.jit.export
    def topo(self, buffer):
        x = buffer[:, 0:1]
        mod1 = buffer[:, 1:2]
        y = self.conv_in(x)
        y = self.conv(y)
        y = torch.sin(y * torch.pi * mod1)
        y = self.conv_out(y)
        y = y / (self.operators * self.w_mult)
        return y.squeeze(1)

    @torch.jit.export
    def chaos(self, buffer):
        x = buffer[:, 0:1]
        control = buffer[:, 1:2]
        y = self.conv_in(x)
        shift1 = self.conv_chaos(y)
        y = torch.sin(y * torch.pi + shift1 * control * 0.5)
        shift2 = self.conv_chaos(y)
        y = torch.sin(y * torch.pi + torch.tanh(shift2) * control * 2.0)
        y = self.conv_out(y)
        y = y / (self.operators * 0.6)
        return y.squeeze(1)
