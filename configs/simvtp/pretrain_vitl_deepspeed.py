# SimVTP ViT-L/16 (16 frames x 224 px) on WebVid-2M with DeepSpeed ZeRO
# stage 2 (mmengine's FlexibleRunner + DeepSpeedStrategy): optimizer state
# and gradients sharded over the GPUs, parameters replicated. Same model,
# data and schedule as pretrain_vitl_fsdp.py:
#   tools/dist_train.sh configs/simvtp/pretrain_vitl_deepspeed.py 8
# Same losses, gradient norm and AdamW step as DDP on the same batch (fp32,
# 2 CPU processes over gloo: tests/test_distributed/test_deepspeed.py).
# Checkpoints are DeepSpeed folders (one file per rank for the optimizer).
_base_ = ['./pretrain_vitl_fsdp.py']

strategy = dict(
    _delete_=True,
    type='DeepSpeedStrategy',
    # FlexibleRunner sets train_micro_batch_size_per_gpu to the
    # dataloader's batch_size
    zero_optimization=dict(
        stage=2,
        overlap_comm=True,  # reduce gradient buckets during the backward
        contiguous_gradients=True,
        reduce_bucket_size=int(5e8),
        allgather_bucket_size=int(5e8)),
    # Precision (GPU): bf16 autocast around the forward with fp32 weights,
    # gradients and AdamW state, as the AmpOptimWrapper of the ViT-B recipe;
    # DeepSpeed reduces the gradients of Linear/Conv weights in bf16.
    # Not DeepSpeed's bf16=dict(enabled=True) / fp16=dict(enabled=True):
    # those cast the weights to 16 bits and need the inputs cast too
    # (inputs_to_half), which would cast the token ids as well.
    # For plain fp32 (e.g. CPU processes over gloo): config=dict().
    config=dict(torch_autocast=dict(enabled=True, dtype='bfloat16')),
    # no clipping, as the DDP recipe. Leaving it out (None) does NOT mean no
    # clipping: DeepSpeed's default clips the gradient norm to 1.0
    gradient_clipping=0.0,
)

# DeepSpeedOptimWrapper: the engine does backward and step; same AdamW and
# decay / no-decay groups as the ViT-B recipe (no AmpOptimWrapper dtype).
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer={{_base_.optim_wrapper.optimizer}},
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
