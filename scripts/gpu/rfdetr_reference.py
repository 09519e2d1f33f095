#!/usr/bin/env python3
"""GPU-check helpers for RF-DETR Medium (run by scripts/gpu-check.sh).

  checkpoint OUT      write a random-weight Medium checkpoint as safetensors,
                      from the tensor list rfdetr_medium_tensors.txt (names and
                      shapes of the official state dict). Needs numpy only.
  torch-bench CKPT    build the official model (roboflow/rf-detr source in
                      third_party/rf-detr), load CKPT, and time FP16 inference
                      at batch 1 and 32 on the GPU with CUDA events.

The official code is imported without its package __init__ (which pulls in
training and dataset dependencies); nothing here computes model math.
"""
import json
import os
import struct
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def make_checkpoint(out):
    import numpy as np

    rng = np.random.default_rng(9)
    header, blobs, off = {}, [], 0
    with open(os.path.join(HERE, "rfdetr_medium_tensors.txt")) as f:
        rows = [line.split() for line in f if line.strip()]
    for name, _dtype, shape in rows:
        dims = [int(s) for s in shape.split(",")] if shape else []
        n = int(np.prod(dims)) if dims else 1
        leaf = name.rsplit(".", 1)[-1]
        norm = any(t in name for t in ("norm", "layernorm", ".bn."))
        if leaf == "lambda1":  # layer-scale: moderate residual updates
            v = 0.3 + 0.1 * rng.standard_normal(n)
        elif norm and leaf == "weight":
            v = 1.0 + 0.1 * rng.standard_normal(n)
        elif leaf == "bias" or norm:
            v = 0.05 * rng.standard_normal(n)
        elif len(dims) >= 2 and "embed" not in leaf and "token" not in leaf:
            fan_in = n // dims[0]
            v = rng.standard_normal(n) / np.sqrt(fan_in)
        else:  # embeddings, tokens, query features, reference points
            v = 0.5 * rng.standard_normal(n)
        b = v.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": dims, "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt", "note": "random RF-DETR Medium for GPU checks"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print(f"checkpoint: {len(rows)} tensors, {off / 1e6:.1f} MB -> {out}")


def transformers_v4_names():
    """The official source targets transformers 4.x; the GPU image has 5.x.
    Re-create the few import names 5.x dropped: docstring decorators (no-ops),
    head-pruning helpers (never called at inference) and the head-mask helper
    that returns "no mask". No model math lives here."""
    import importlib

    import transformers.modeling_utils as mu
    import transformers.pytorch_utils as pu
    import transformers.utils as tu

    def unsupported(*a, **k):
        raise NotImplementedError("head pruning is not used for inference")

    def identity_decorator(*a, **k):
        return lambda f: f

    for name in ("add_code_sample_docstrings", "add_start_docstrings",
                 "add_start_docstrings_to_model_forward", "replace_return_docstrings"):
        if not hasattr(tu, name):
            setattr(tu, name, identity_decorator)
    if not hasattr(tu, "torch_int"):
        tu.torch_int = int
    for name in ("find_pruneable_heads_and_indices", "prune_linear_layer"):
        if not hasattr(pu, name):
            setattr(pu, name, unsupported)
    if not hasattr(mu.PreTrainedModel, "get_head_mask"):
        mu.PreTrainedModel.get_head_mask = (
            lambda self, head_mask, n, *a, **k: [None] * n if head_mask is None else head_mask)
    import transformers.configuration_utils as cu
    if not hasattr(cu, "PretrainedConfig") and hasattr(cu, "PreTrainedConfig"):
        cu.PretrainedConfig = cu.PreTrainedConfig
    try:
        bu = importlib.import_module("transformers.utils.backbone_utils")
    except ImportError:
        bu = None
        for alt in ("transformers.backbone_utils", "transformers.modeling_backbone_utils"):
            try:
                bu = sys.modules["transformers.utils.backbone_utils"] = importlib.import_module(alt)
                break
            except ImportError:
                pass
    if bu is None:
        return

    def aligned(out_features=None, out_indices=None, stage_names=None):
        # bookkeeping only: which named stages the backbone returns
        if out_features is None and out_indices is None:
            out_features = [stage_names[-1]]
        if out_indices is None:
            out_indices = [stage_names.index(f) for f in out_features]
        if out_features is None:
            out_features = [stage_names[i] for i in out_indices]
        return list(out_features), list(out_indices)

    if not hasattr(bu, "get_aligned_output_features_output_indices"):
        bu.get_aligned_output_features_output_indices = aligned
    mixin = getattr(bu, "BackboneMixin", None)
    if mixin is not None and not hasattr(mixin, "_init_backbone"):
        def _init_backbone(self, config):
            self.config = config
            self.stage_names = config.stage_names
            self._out_features, self._out_indices = aligned(
                getattr(config, "out_features", None), getattr(config, "out_indices", None),
                config.stage_names)
            self.num_features = None

        mixin._init_backbone = _init_backbone


def official_model():
    """Build the official RFDETRMedium network (random init) from the source."""
    import argparse

    import transformers

    print(f"transformers {transformers.__version__}")
    if int(transformers.__version__.split(".")[0]) >= 5:
        transformers_v4_names()

    src = os.path.join(ROOT, "third_party", "rf-detr")
    pkg = types.ModuleType("rfdetr")  # skip rfdetr/__init__.py (training deps)
    pkg.__path__ = [os.path.join(src, "rfdetr")]
    sys.modules["rfdetr"] = pkg
    from rfdetr.models.lwdetr import build_model  # noqa: E402

    a = argparse.Namespace(
        num_classes=90, device="cuda", encoder="dinov2_windowed_small",
        vit_encoder_num_layers=12, pretrained_encoder=None, window_block_indexes=None,
        drop_path=0.0, hidden_dim=256, out_feature_indexes=[3, 6, 9, 12],
        projector_scale=["P4"], use_cls_token=False, position_embedding="sine",
        freeze_encoder=False, layer_norm=True, rms_norm=False, backbone_lora=False,
        force_no_pretrain=False, gradient_checkpointing=False, pretrain_weights="none",
        patch_size=16, num_windows=2, positional_encoding_size=36, resolution=576,
        encoder_only=False, backbone_only=False, dec_layers=4, dim_feedforward=2048,
        sa_nheads=8, ca_nheads=16, dec_n_points=2, num_queries=300, group_detr=13,
        two_stage=True, lite_refpoint_refine=True, bbox_reparam=True, decoder_norm="LN",
        aux_loss=True, segmentation_head=False, mask_downsample_ratio=4, dropout=0.0,
        num_select=300, shape=(576, 576), amp=False, ia_bce_loss=True,
    )
    return build_model(a)


def torch_bench(ckpt):
    import torch

    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    torch.manual_seed(0)
    model = official_model()
    if ckpt:
        from safetensors.torch import load_file

        sd = load_file(ckpt)
        missing, unexpected = model.load_state_dict(sd, strict=False)
        print(f"loaded {ckpt}: {len(missing)} missing, {len(unexpected)} unexpected keys")
    model = model.eval().cuda().half()
    res = {}
    for batch, iters in ((1, 200), (32, 20)):
        x = torch.randn(batch, 3, 576, 576, device="cuda", dtype=torch.half)
        with torch.inference_mode():
            for _ in range(10):
                model(x)
            torch.cuda.synchronize()
            times = []
            for _ in range(iters):
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                s.record()
                model(x)
                e.record()
                e.synchronize()
                times.append(s.elapsed_time(e))
        times.sort()
        p50, p99 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]
        peak = torch.cuda.max_memory_allocated() / 2**20
        res[batch] = (p50, p99, batch * 1000.0 / p50, peak)
        print(f"torch-fp16 batch {batch:2d}: p50 {p50:.3f} ms  p99 {p99:.3f} ms  "
              f"{batch * 1000.0 / p50:.0f} frames/s  peak VRAM {peak:.0f} MiB")
        # after each batch size: a time limit during batch 32 keeps batch 1
        with open(os.environ.get("FT_TORCH_RESULT", "/tmp/torch_bench.json"), "w") as f:
            json.dump({str(k): v for k, v in res.items()}, f)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "checkpoint":
        make_checkpoint(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "torch-bench":
        torch_bench(sys.argv[2] if len(sys.argv) > 2 else None)
    else:
        print(__doc__)
        sys.exit(1)
