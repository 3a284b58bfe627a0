# SimVTP ViT-B/16, 16 frames x 224 px (paper section 4, DESIGN.md section 4).
# Every part's geometry is written out (as mmpretrain's MAE configs do): a
# child config that changes the backbone (arch, patch size, vocabulary)
# changes these too; a mismatch is reported with the keys to change.
embed_dims = 768        # backbone width (arch='base')
patch_size = 16
tubelet_size = 2
vocab_size = 30522      # bert-base-uncased
mean = [123.675, 116.28, 103.53]  # pixel normalisation, 0-255 units
std = [58.395, 57.12, 57.375]

model = dict(
    type='SimVTP',
    data_preprocessor=dict(
        type='VideoTextDataPreprocessor', mean=mean, std=std,
        pad_token_id=0),
    backbone=dict(
        type='UnifiedViT',
        arch='base',
        img_size=224,
        patch_size=patch_size,
        num_frames=16,
        tubelet_size=tubelet_size,
        vocab_size=vocab_size,
        max_text_len=512,
        drop_path_rate=0.0,
        attn_impl='sdpa',
        with_cp=False),
    video_decoder=dict(type='VideoMAEDecoder', in_dims=embed_dims,
                       embed_dims=384, depth=4, num_heads=6,
                       patch_size=patch_size, tubelet_size=tubelet_size,
                       in_channels=3),
    text_decoder=dict(type='TextDecoder', in_dims=embed_dims,
                      vocab_size=vocab_size, depth=0),
    pixel_head=dict(type='PixelReconstructionHead', patch_size=patch_size,
                    tubelet_size=tubelet_size, norm_pix=True, mean=mean,
                    std=std, loss_weight=1.0),
    mlm_head=dict(type='MLMHead', loss_weight=1.0),
    # the reference sums the text-to-video and video-to-text InfoNCE terms
    vtc_head=dict(type='VTCHead', embed_dims=embed_dims, temperature=0.05,
                  learnable_temperature=False, symmetric_sum=True,
                  loss_weight=1.0),
    vtm_head=dict(type='VTMHead', embed_dims=embed_dims, negative='random',
                  loss_weight=1.0),
    objectives=('msm', 'vtc', 'vtm'),
    pooling='mean',
    vtc_text='masked')
