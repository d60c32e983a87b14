"""torch.distributed stand-in: only what the `torchrun` entry point needs."""


def is_available():
    return False
