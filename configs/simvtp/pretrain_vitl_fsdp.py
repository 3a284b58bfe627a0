# SimVTP ViT-L/16 (16 frames x 224 px) on WebVid-2M with parameters,
# gradients and optimizer state sharded over the GPUs (mmengine's
# FlexibleRunner + FSDPStrategy), for models beyond one GPU's memory:
#   tools/dist_train.sh configs/simvtp/pretrain_vitl_fsdp.py 8
# Same losses as DDP on the same batch (tests/test_distributed/test_fsdp.py).
_base_ = ['./pretrain_vitb.py']

embed_dims = 1024  # arch='large': 24 layers, 16 heads
model = dict(
    backbone=dict(arch='large', with_cp=True),  # checkpoint every block
    video_decoder=dict(in_dims=embed_dims, embed_dims=512, num_heads=8),
    text_decoder=dict(in_dims=embed_dims),
    vtc_head=dict(embed_dims=embed_dims),
    vtm_head=dict(embed_dims=embed_dims))

runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        type='MMFullyShardedDataParallel',
        # one FSDP unit per transformer block (ViT-L: 12.6M parameters)
        auto_wrap_policy='transformer_block_wrap_policy',
        # the optimizer's decay / no-decay groups name the original
        # parameters, not FSDP's flat ones
        use_orig_params=True),
    # the device is the process's LOCAL_RANK GPU; on CPU processes (gloo)
    # set model_wrapper.device_id='cpu'
)
