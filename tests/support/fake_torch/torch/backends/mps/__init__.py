"""torch.backends.mps: never available in the fake (it simulates NVIDIA machines)."""


def is_available():
    return False


def is_built():
    return False
