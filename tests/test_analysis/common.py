"""A tiny SimVTP and a batch for the analysis tests."""
import torch

from tests.tiny_model import build_tiny

B, T, S, P = 4, 4, 32, 8  # clips, frames, pixels, patch
N = (T // 2) * (S // P) ** 2  # 32 tubes
HIDDEN_CELLS = 12  # of 16 per temporal slice
VOCAB = 40


def build(**kwargs):
    return build_tiny(seed=0, vocab=VOCAB, size=S, patch=P, frames=T,
                      **kwargs)


def make_batch(seed=0, lengths=(7, 5, 6, 7)):
    """Captions of different lengths (so the batch has padding)."""
    g = torch.Generator().manual_seed(seed)
    samples = []
    for n in lengths:
        ids = torch.randint(5, VOCAB, (n, ), generator=g)
        ids[0], ids[-1] = 2, 3
        labels = torch.full((n, ), -100)
        labels[1:3] = ids[1:3]
        masked = ids.clone()
        masked[1:3] = 4
        spatial = torch.zeros(N // (T // 2), dtype=torch.bool)
        spatial[torch.randperm(spatial.numel(),
                               generator=g)[:HIDDEN_CELLS]] = True
        samples.append(dict(
            video=torch.randint(0, 256, (3, T, S, S), dtype=torch.uint8,
                                generator=g),
            video_mask=spatial.repeat(T // 2), input_ids=masked,
            input_ids_unmasked=ids,
            attention_mask=torch.ones(n, dtype=torch.long),
            mlm_labels=labels))
    return dict(inputs=samples, data_samples=None)


def inputs_of(model, seed=0):
    return model.data_preprocessor(make_batch(seed), True)['inputs']


def total(losses):
    return sum(v for k, v in losses.items() if k.startswith('loss'))



def free_port() -> int:
    """A free TCP port on the loopback (for a gloo process group)."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def grad_norm(params) -> float:
    """Global L2 norm of the gradients of ``params`` (None skipped)."""
    return float(torch.stack([p.grad.norm() for p in params
                              if p.grad is not None]).norm())
