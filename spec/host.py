"""How nn~ and nn.ar run a model: rate, blocks, buffers, and the latency of each host profile (measured
against both real hosts: docs/facts.md, "How nn~ and nn.ar run a model")."""

import dataclasses

SR = 44100  # the hosts' usual rate: every render, probe and benchmark of this project runs at it
HOST_BLOCK = 64  # Pd's block size; Max and SuperCollider commonly use 64 too
DEFAULT_BUFFER = 2048  # the buffer nn.ar's examples use, and this project's patches
NN_TILDE_BUFFER = 4096  # nn~'s own default (a 1-in/1-out model keeps it unless [bufsize N( comes first)
BENCH_BUFFERS = (64, 256, 2048)  # small, typical and large: every real-time table
WORST_CASE_BUFFERS = tuple(2**k for k in range(6, 13))  # 64 ... 4096: make bench's block-time distribution
WORST_CASE_BLOCKS = 2000  # blocks timed per method and buffer (p99.9 needs 1000+)
SAFE_SHARE = 0.5  # a buffer is safe when its p99.9 block time stays under this share of the block's deadline
VALIDATION_BUFFERS = tuple(2**k for k in range(6, 14))  # 64 ... 8192: the nn~ contract is checked at each
REFERENCE_BUFFER = VALIDATION_BUFFERS[-1]  # 8192: the render the buffer-edge measure compares to


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    latency_buffers: int  # output lags input by latency_buffers * N - block samples
    block: int  # the host's own block (subtracted from the latency); 0 for none
    says: str  # how the host prefixes its messages: "nn~" or "NNUGen" (nn.ar)
    set_lead: int  # an attribute change lands this many buffers before the one holding it
    unsized: bool = False  # nn~ never sent [bufsize N(: a 1-in/1-out method's output comes NN_TILDE_BUFFER - N later

    def latency(self, buffer: int) -> int:
        return self.latency_buffers * buffer - self.block


PROFILES = {
    "nn~": Profile("nn~", 2, HOST_BLOCK, "nn~", 1),  # Pd / Max, threaded: 2N - 64
    "nn~-unsized": Profile("nn~-unsized", 2, HOST_BLOCK, "nn~", 1, True),  # ... without [bufsize N( (measured)
    "nn.ar": Profile("nn.ar", 2, HOST_BLOCK, "NNUGen", 0),  # SuperCollider in real time: 2N - 64
    "nn.ar-nrt": Profile("nn.ar-nrt", 1, HOST_BLOCK, "NNUGen", 0),  # SuperCollider non-real-time (NN.nrt): N - 64
    "unthreaded": Profile("unthreaded", 1, 0, "nn~", 0),  # nn~ without its thread: N
}


def latency(buffer: int, host: str = "nn~") -> int:
    return PROFILES[host].latency(buffer)


def power_of_two_from(n: int) -> int:
    return 1 << (n - 1).bit_length()
