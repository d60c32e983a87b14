"""torch.backends.cuda: the matmul precision flags."""


class _Matmul:
    allow_tf32 = False
    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True


matmul = _Matmul()


def is_built():
    from ... import version

    return version.cuda is not None
