"""torchvision.ops.nms: runs a kernel on the boxes' device."""

import torch
from torch import _tensor


def nms(boxes, scores, iou_threshold):
    if boxes.device != scores.device:
        raise RuntimeError("boxes and scores should be on the same device")
    n = boxes.shape[0]
    keep = max(1, n // 2) if n else 0
    out = _tensor.Tensor((keep,), torch.int64, boxes.device, mean=(n - 1) / 2.0)
    _tensor._work(boxes.device, n * n, boxes.nbytes, boxes.dtype)
    return out
