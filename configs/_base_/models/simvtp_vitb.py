# SimVTP ViT-B/16, 16 frames x 224 px (paper section 4, DESIGN.md section 4).
model = dict(
    type='SimVTP',
    data_preprocessor=dict(
        type='VideoTextDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        pad_token_id=0),
    backbone=dict(
        type='UnifiedViT',
        arch='base',
        img_size=224,
        patch_size=16,
        num_frames=16,
        tubelet_size=2,
        vocab_size=30522,
        max_text_len=512,
        drop_path_rate=0.0,
        attn_impl='sdpa',
        with_cp=False),
    video_decoder=dict(type='VideoMAEDecoder', embed_dims=384, depth=4,
                       num_heads=6),
    text_decoder=dict(type='TextDecoder', depth=0),
    pixel_head=dict(type='PixelReconstructionHead', norm_pix=True,
                    loss_weight=1.0),
    mlm_head=dict(type='MLMHead', loss_weight=1.0),
    # the reference sums the text-to-video and video-to-text InfoNCE terms
    vtc_head=dict(type='VTCHead', temperature=0.05,
                  learnable_temperature=False, symmetric_sum=True,
                  loss_weight=1.0),
    vtm_head=dict(type='VTMHead', negative='random', loss_weight=1.0),
    objectives=('msm', 'vtc', 'vtm'),
    pooling='mean',
    vtc_text='masked',
    # speed options with the same losses up to rounding (benchmark_train.py
    # measures them): cube-embed only the visible 10% of the tubes
    embed_visible_only=True)
