"""Data-parallel settings and shards, without training: each bad setting is one sentence before anything starts,
and the shards of an epoch are disjoint and together what one process with the global batch reads, in order."""

import pytest
import torch

from rave_pipeline.commands import parallel
from rave_pipeline.inside_rave import ddp, loader
from safeio import UserError


@pytest.mark.parametrize(
    "settings, says",
    [
        (dict(cuda=True, gpus=4, visible=2), "GPUS=4 but this node has 2 GPU(s) visible"),
        (dict(cuda=True, gpu="0,0", visible=2), "GPU=0,0 names GPU 0 twice"),
        (dict(cuda=True, gpu="0,one", visible=2), "GPU=0,one is not a GPU index"),
        (dict(cuda=True, gpu="0,1", gpus=4, visible=8), "GPU=0,1 names 2 GPU(s) but GPUS=4"),
        (dict(cuda=True, gpu="3", visible=2), "GPU=3 but only 2 GPU(s) are visible"),
        (dict(cuda=True, procs=2, visible=2), "PROCS=2 is for DEVICE=cpu; on GPUs set GPUS=2"),
        (dict(cuda=False, gpus=2), "use PROCS=N for N CPU processes"),
        (dict(cuda=False, procs=2, nodes=2), "NODES=2 needs a Slurm job"),
    ],
)
def test_a_bad_layout_is_one_sentence(settings, says, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with pytest.raises(UserError) as e:
        parallel.plan(**settings)
    assert says in str(e.value) and "\n" not in str(e.value)


def test_nodes_beyond_the_job_s_are_refused(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "1")
    with pytest.raises(UserError, match="NODES=2 but this Slurm job holds 1 node"):
        parallel.plan(cuda=False, procs=2, nodes=2)


@pytest.mark.parametrize("text", ["0", "word", "-1"])
def test_nodes_and_procs_are_whole_numbers_of_one_or_more(text):
    from rave_pipeline.commands.options import OPTIONS, parse

    for var in ("NODES", "PROCS", "GPUS"):
        with pytest.raises(UserError, match=f"{var}={text} is not a whole number of 1 or more"):
            parse(next(o for o in OPTIONS if o.var == var), text)


def test_the_layout_says_the_global_batch_and_its_launcher(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "2")
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "9")
    layout = parallel.plan(cuda=True, gpus=4, nodes=2, visible=8)
    assert layout.batch_line(8) == "batch 8 per GPU × 4 GPUs × 2 nodes = 64 examples per step"
    assert layout.gpus == (0, 1, 2, 3) and layout.env() == {"RAVE_PIPELINE_PROCS": "4", "RAVE_PIPELINE_NODES": "2"}
    assert layout.launcher()[:5] == ["srun", "--nodes=2", "--ntasks=8", "--ntasks-per-node=4", "--cpus-per-task=9"]
    cpu = parallel.plan(cuda=False, procs=2)
    assert cpu.batch_line(2) == "batch 2 per process × 2 processes = 4 examples per step"
    monkeypatch.delenv("SLURM_JOB_ID")
    assert cpu.launcher() == [], "outside Slurm Lightning starts the second process"
    assert parallel.plan(cuda=False).env() == {}, "no data-parallel settings: RAVE's own single process"
    with pytest.raises(UserError, match=r"= 64 examples per step, more than the database's 40 training examples"):
        parallel.check_global_batch(layout, 8, 40)
    assert parallel.sbatch_options(2, 4, None, 8) == [
        "--nodes=2",
        "--ntasks-per-node=4",
        "--cpus-per-task=9",
        "--gres=gpu:4",
    ]


def shards(n, batch, world, epoch, monkeypatch):
    monkeypatch.setattr(ddp, "PROCS", world)
    out = []
    for rank in range(world):
        monkeypatch.setattr(ddp, "rank_world", lambda rank=rank: (rank, world))
        s = loader.Shards(n, batch, shuffle=True, drop_last=True)
        s.set_epoch(epoch)
        out.append(list(s))
    return out


@pytest.mark.parametrize("world", [2, 3])
def test_shards_are_disjoint_and_together_one_process_s_epoch_in_order(world, monkeypatch):
    n, batch = 50, 4
    (one,) = shards(n, batch * world, 1, epoch=3, monkeypatch=monkeypatch)
    ranks = shards(n, batch, world, epoch=3, monkeypatch=monkeypatch)
    assert all(len(r) == len(one) == n // (batch * world) for r in ranks)
    for k, global_batch in enumerate(one):  # step k: the ranks' batches, rank after rank, are one process's batch
        assert sum((r[k] for r in ranks), []) == global_batch, "same examples, same order, same seeds"
    indices = [i for r in ranks for b in r for i, _ in b]
    assert len(indices) == len(set(indices)), "no example on two ranks in one epoch"
    assert shards(n, batch, world, 4, monkeypatch)[0] != ranks[0], "each epoch its own order"


def test_an_example_is_cut_the_same_whatever_reads_it():
    class Crops(torch.utils.data.Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return torch.rand(3) + i

    items = loader.SeededItems(Crops(), own_seeds=True)
    torch.manual_seed(1)
    before = torch.rand(1)
    torch.manual_seed(1)
    a = items[(4, loader.item_seed(0, 4))]
    assert torch.equal(a, items[(4, loader.item_seed(0, 4))]), "its own seed: the same crop each time"
    assert not torch.equal(a, items[(4, loader.item_seed(1, 4))]), "another epoch, another crop"
    assert torch.equal(torch.rand(1), before), "the process's own generator (the model's noise) untouched"


def _rank(rank: int, world: int, port: int, out) -> None:
    """One of two real gloo processes: different gradients, then the project's collectives."""
    import os
    from types import SimpleNamespace

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.full((1, 3), float(rank + 1))).sum().backward()  # rank 0's inputs are 1, rank 1's are 2
    ddp.GradientSync().on_before_optimizer_step(None, None, opt)
    grads = [p.grad.clone() for p in model.parameters()]
    opt.step()
    trainer = SimpleNamespace(lightning_module=model, optimizers=[opt])
    same = ddp.digests(trainer)
    with torch.no_grad():
        model.bias[0] += rank  # part the ranks: the digests must say so
    parted = ddp.digests(trainer)
    request = ddp.any_rank(15 * 1024 + 2 if rank == 1 else 0, "cpu")  # SIGTERM on rank 1
    out.put((rank, grads, same, parted, request))
    dist.destroy_process_group()


def test_the_ranks_average_their_gradients_compare_digests_and_agree_on_a_stop_over_real_gloo():
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_rank, args=(r, 2, port, out)) for r in range(2)]
    for p in procs:
        p.start()
    results = dict((r, rest) for r, *rest in (out.get(timeout=120) for _ in procs))
    for p in procs:
        p.join(timeout=30)
    (g0, same0, parted0, req0), (g1, same1, parted1, req1) = results[0], results[1]
    assert torch.equal(g0[0], torch.full((2, 3), 1.5)) and torch.equal(g0[1], torch.ones(2)), "the mean of 1 and 2"
    assert all(torch.equal(a, b) for a, b in zip(g0, g1)), "the same gradients, bit for bit, on both"
    assert same0 == same1 and same0[0] == same0[1], "after the same step the digests agree"
    assert parted0 == parted1 and parted0[0] != parted0[1], "weights that differ give digests that differ"
    assert req0 == req1 == 15 * 1024 + 2, "a stop requested on rank 1 reaches rank 0"
